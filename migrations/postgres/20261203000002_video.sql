-- Issue 13: video clips. A clip's length in milliseconds, read by ffprobe at finalize; 0 for
-- photos. (The clip's web rendition sits next to it under a derived key, `{uuid}.web.mp4`, and
-- exists when thumb_status is 'ready'.)
ALTER TABLE pictures ADD COLUMN duration_ms BIGINT NOT NULL DEFAULT 0;
