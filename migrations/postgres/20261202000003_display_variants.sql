-- Issue 13: guests get a metadata-free display copy (<= 2048 px JPEG) next to the thumbnail,
-- never the original. thumb_status now covers both variants. Every existing photo goes back to
-- 'pending' so the sweep makes its display copy (and HEIC photos, formerly 'failed', get both).
ALTER TABLE pictures ADD COLUMN display_key TEXT;
UPDATE pictures SET thumb_status = 'pending';
