//! Who may see which photo of an event: the one place this rule is written. The gallery, live
//! updates and downloads ask [`Visibility::sees`]; the database applies the same rule through the
//! [`PhotoQuery`] that [`Visibility::query`] builds.

use uuid::Uuid;

use super::rules::EventRules;
use crate::db::{PhotoOrder, PhotoQuery, PhotoRecord, PhotoStatus};

/// Who is looking at an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Host,
    Guest(Uuid),
    Anonymous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visibility {
    viewer: Viewer,
    /// Whether approved photos of other people are shown (reveal mode may hide them).
    others_visible: bool,
}

impl Visibility {
    /// The rule as it stands now (a timed reveal may have come).
    pub fn new(viewer: Viewer, rules: &EventRules) -> Self {
        Self::at(viewer, rules, chrono::Utc::now())
    }

    pub fn at(viewer: Viewer, rules: &EventRules, now: chrono::DateTime<chrono::Utc>) -> Self {
        Self {
            viewer,
            others_visible: rules.gallery_visible_to_guests(now),
        }
    }

    pub fn viewer(&self) -> Viewer {
        self.viewer
    }

    /// The host sees everything; a guest sees their own photos (pending ones too) and, unless the
    /// event is waiting for its reveal, everybody's approved photos.
    pub fn sees(&self, photo: &PhotoRecord) -> bool {
        match self.viewer {
            Viewer::Host => true,
            Viewer::Guest(id) if photo.guest_id == Some(id) => true,
            _ => photo.status == PhotoStatus::Approved && self.others_visible,
        }
    }

    /// The same rule as a database filter, for one page of the gallery.
    pub fn query(
        &self,
        before: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
        limit: Option<u32>,
    ) -> PhotoQuery {
        PhotoQuery {
            everything: self.viewer == Viewer::Host,
            approved_visible: self.others_visible,
            viewer: match self.viewer {
                Viewer::Guest(id) => Some(id),
                _ => None,
            },
            before,
            limit,
            uploader: None,
            order: PhotoOrder::Newest,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::db::ThumbStatus;

    fn photo(guest: Option<Uuid>, status: PhotoStatus) -> PhotoRecord {
        PhotoRecord {
            id: Uuid::new_v4(),
            event_id: Uuid::new_v4(),
            uploader_name: "Ada".into(),
            original_filename: "a.jpg".into(),
            object_key: String::new(),
            bucket: String::new(),
            mimetype: "image/jpeg".into(),
            filesize_bytes: 1,
            mission_id: None,
            created_at: Utc::now(),
            guest_id: guest,
            status,
            content_hash: None,
            thumb_key: None,
            display_key: None,
            thumb_status: ThumbStatus::Pending,
            duration_ms: None,
        }
    }

    #[test]
    fn the_host_sees_pending_photos_and_guests_only_their_own() {
        let rules = EventRules::from_settings(&json!({"require_approval": true}));
        let ada = Uuid::new_v4();
        let pending = photo(Some(ada), PhotoStatus::Pending);
        assert!(Visibility::new(Viewer::Host, &rules).sees(&pending));
        assert!(Visibility::new(Viewer::Guest(ada), &rules).sees(&pending));
        assert!(!Visibility::new(Viewer::Guest(Uuid::new_v4()), &rules).sees(&pending));
        assert!(!Visibility::new(Viewer::Anonymous, &rules).sees(&pending));
    }

    #[test]
    fn before_the_reveal_guests_see_only_their_own_photos() {
        let rules = EventRules::from_settings(&json!({"reveal": "after_reveal"}));
        let ada = Uuid::new_v4();
        let others = photo(Some(Uuid::new_v4()), PhotoStatus::Approved);
        assert!(!Visibility::new(Viewer::Guest(ada), &rules).sees(&others));
        assert!(
            Visibility::new(Viewer::Guest(ada), &rules)
                .sees(&photo(Some(ada), PhotoStatus::Approved))
        );
        let revealed =
            EventRules::from_settings(&json!({"reveal": "after_reveal", "revealed": true}));
        assert!(Visibility::new(Viewer::Anonymous, &revealed).sees(&others));
    }

    #[test]
    fn the_query_carries_the_same_rule() {
        let rules = EventRules::from_settings(&json!({"reveal": "after_reveal"}));
        let ada = Uuid::new_v4();
        let query = Visibility::new(Viewer::Guest(ada), &rules).query(None, Some(10));
        assert!(!query.everything && !query.approved_visible);
        assert_eq!(query.viewer, Some(ada));
        assert!(
            Visibility::new(Viewer::Host, &rules)
                .query(None, None)
                .everything
        );
    }
}
