//! Event settings and the rules a host sets in them: when uploads close, pre-approval, reveal
//! mode, whether guests may delete their own photos, a per-guest upload limit, and video clips.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::{event_pin, identity::check_identity_fields, values::Invalid};

/// Events stay open for uploads this long unless the host sets `ends_at`.
pub const DEFAULT_EVENT_LENGTH_HOURS: i64 = 48;
const MAX_EVENT_LENGTH_DAYS: i64 = 366;
const MAX_NAME_CHARS: usize = 100;
const MAX_DESCRIPTION_CHARS: usize = 2000;
/// The largest per-event storage limit a host may set (1 TiB).
const MAX_STORAGE_LIMIT_MB: u64 = 1024 * 1024;
pub const MAX_UPLOAD_LIMIT: u64 = 10_000;
/// The longest per-event clip length a host may set; `MAX_VIDEO_SECS` caps it further.
const MAX_VIDEO_SECS_SETTING: u64 = 3600;

/// The rules as the server enforces them; unknown or missing settings mean the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRules {
    pub require_approval: bool,
    /// Guests see the gallery only once the host reveals it (`reveal: "after_reveal"`), or
    /// once `reveal_at` has come.
    pub reveal_later: bool,
    pub revealed: bool,
    /// The reveal happens by itself at this time (`reveal_at`, e.g. the morning after).
    pub reveal_at: Option<DateTime<Utc>>,
    pub guest_delete: bool,
    pub upload_limit_per_guest: Option<u64>,
    /// The host's own cap on the event's stored photos, in MiB (`storage_limit_mb`).
    pub storage_limit_mb: Option<u64>,
    /// Guests and the host may react to photos (`reactions`, on by default).
    pub reactions: bool,
    /// Guests and the host may comment on photos (`comments`, on by default).
    pub comments: bool,
    /// Guests' comments wait for the host's approval before others see them
    /// (`comment_approval`, off by default).
    pub comment_approval: bool,
    /// Guests and the host may write in the guestbook (`guestbook`, on by default).
    pub guestbook: bool,
    /// Guests' guestbook messages wait for the host's approval before others see them
    /// (`guestbook_approval`, off by default).
    pub guestbook_approval: bool,
    /// Guests may upload video clips (`videos`, on by default).
    pub videos: bool,
    /// The host's own cap on a clip's length (`max_video_secs`), below the server's.
    pub max_video_secs: Option<u64>,
    /// What guests may download (`guest_downloads`).
    pub guest_downloads: GuestDownloads,
    /// Guests' downloads are the originals, metadata included (`guest_originals`), instead of
    /// the display copies.
    pub guest_originals: bool,
}

/// What the host lets guests download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestDownloads {
    /// No download buttons (the photos are still shown).
    None,
    /// Single photos from the viewer (the default).
    Photos,
    /// Single photos and the whole event as one ZIP.
    All,
}

impl GuestDownloads {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Self::None),
            "photos" => Some(Self::Photos),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

impl EventRules {
    pub fn from_settings(settings: &Value) -> Self {
        let flag = |key: &str, default: bool| {
            settings
                .get(key)
                .and_then(Value::as_bool)
                .unwrap_or(default)
        };
        let reveal_at = settings
            .get("reveal_at")
            .and_then(|v| parse_time(v, "reveal_at").ok());
        Self {
            require_approval: flag("require_approval", false),
            reveal_later: settings.get("reveal").and_then(Value::as_str) == Some("after_reveal")
                || reveal_at.is_some(),
            reveal_at,
            revealed: flag("revealed", false),
            guest_delete: flag("guest_delete", true),
            upload_limit_per_guest: settings
                .get("upload_limit_per_guest")
                .and_then(Value::as_u64),
            storage_limit_mb: settings.get("storage_limit_mb").and_then(Value::as_u64),
            reactions: flag("reactions", true),
            comments: flag("comments", true),
            comment_approval: flag("comment_approval", false),
            guestbook: flag("guestbook", true),
            guestbook_approval: flag("guestbook_approval", false),
            videos: flag("videos", true),
            max_video_secs: settings.get("max_video_secs").and_then(Value::as_u64),
            guest_downloads: settings
                .get("guest_downloads")
                .and_then(Value::as_str)
                .and_then(GuestDownloads::parse)
                .unwrap_or(GuestDownloads::Photos),
            guest_originals: flag("guest_originals", false),
        }
    }

    /// Whether guests (and anonymous visitors) see other people's approved photos at `now`.
    pub fn gallery_visible_to_guests(&self, now: DateTime<Utc>) -> bool {
        !self.reveal_later || self.revealed || self.reveal_at.is_some_and(|at| at <= now)
    }

    /// The longest clip this event accepts, given the server's `MAX_VIDEO_SECS`.
    pub fn video_secs_limit(&self, server_max_secs: u64) -> u64 {
        self.max_video_secs
            .map_or(server_max_secs, |own| own.min(server_max_secs))
    }

    /// When the gallery will open to guests by itself: `reveal_at` while it lies ahead.
    pub fn reveal_pending_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.reveal_at
            .filter(|at| *at > now && !self.gallery_visible_to_guests(now))
    }
}

/// The settings as clients should read them at `now`: once `reveal_at` has come, the gallery
/// is revealed (`revealed: true`), as if the host had pressed the button at that moment.
/// The PIN's hash never leaves the server: views read `protected: true` instead.
pub fn effective_settings(mut settings: Value, now: DateTime<Utc>) -> Value {
    let rules = EventRules::from_settings(&settings);
    if let Some(map) = settings.as_object_mut() {
        if rules.reveal_later && !rules.revealed && rules.gallery_visible_to_guests(now) {
            map.insert("revealed".into(), Value::Bool(true));
        }
        event_pin::public_view(map);
    }
    settings
}

impl EventRules {
    /// Uploads must name their guest when a rule is per guest.
    pub fn needs_guest_id(&self) -> bool {
        self.require_approval || self.upload_limit_per_guest.is_some()
    }
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid::new(message)
}

fn parse_time(value: &Value, field: &str) -> Result<DateTime<Utc>, Invalid> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| invalid(format!("settings.{field} must be an RFC 3339 date-time")))
}

/// Numbers beyond ±2^53 do not survive every store and client (PostgreSQL keeps them exactly
/// and prints integers serde cannot read back); settings never need them.
const MAX_SETTINGS_NUMBER: f64 = 9_007_199_254_740_992.0;

fn numbers_in_range(value: &Value) -> bool {
    match value {
        Value::Number(n) => n
            .as_f64()
            .is_some_and(|f| f.is_finite() && f.abs() <= MAX_SETTINGS_NUMBER),
        Value::Array(items) => items.iter().all(numbers_in_range),
        Value::Object(map) => map.values().all(numbers_in_range),
        _ => true,
    }
}

/// Checks the fields PartyPic understands; other keys are kept as the client sent them.
fn check_known_fields(settings: &mut Map<String, Value>) -> Result<(), Invalid> {
    check_identity_fields(settings)?;
    if !settings.values().all(numbers_in_range) {
        return Err(invalid("settings numbers must lie between -2^53 and 2^53"));
    }
    for (field, max) in [
        ("name", MAX_NAME_CHARS),
        ("description", MAX_DESCRIPTION_CHARS),
    ] {
        match settings.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.chars().count() <= max => {}
            Some(Value::String(_)) => {
                return Err(invalid(format!(
                    "settings.{field} must be at most {max} characters"
                )));
            }
            Some(_) => return Err(invalid(format!("settings.{field} must be a string"))),
        }
    }
    for field in [
        "require_approval",
        "revealed",
        "guest_delete",
        "reactions",
        "comments",
        "comment_approval",
        "guestbook",
        "guestbook_approval",
        "videos",
        "guest_originals",
    ] {
        if settings
            .get(field)
            .is_some_and(|v| !v.is_boolean() && !v.is_null())
        {
            return Err(invalid(format!("settings.{field} must be true or false")));
        }
    }
    match settings.get("reveal") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "always" || s == "after_reveal" => {}
        Some(_) => {
            return Err(invalid(
                "settings.reveal must be \"always\" or \"after_reveal\"",
            ));
        }
    }
    match settings.get("guest_downloads") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if GuestDownloads::parse(s).is_some() => {}
        Some(_) => {
            return Err(invalid(
                "settings.guest_downloads must be \"none\", \"photos\" or \"all\"",
            ));
        }
    }
    match settings.get("reveal_at") {
        None | Some(Value::Null) => {}
        Some(value) => {
            parse_time(value, "reveal_at")?;
        }
    }
    match settings.get("storage_limit_mb") {
        None | Some(Value::Null) => {}
        Some(v)
            if v.as_u64()
                .is_some_and(|n| (1..=MAX_STORAGE_LIMIT_MB).contains(&n)) => {}
        Some(_) => {
            return Err(invalid(format!(
                "settings.storage_limit_mb must be an integer from 1 to {MAX_STORAGE_LIMIT_MB}"
            )));
        }
    }
    match settings.get("max_video_secs") {
        None | Some(Value::Null) => {}
        Some(v)
            if v.as_u64()
                .is_some_and(|n| (1..=MAX_VIDEO_SECS_SETTING).contains(&n)) => {}
        Some(_) => {
            return Err(invalid(format!(
                "settings.max_video_secs must be an integer from 1 to {MAX_VIDEO_SECS_SETTING}"
            )));
        }
    }
    match settings.get("upload_limit_per_guest") {
        None | Some(Value::Null) => {}
        Some(v)
            if v.as_u64()
                .is_some_and(|n| (1..=MAX_UPLOAD_LIMIT).contains(&n)) => {}
        Some(_) => {
            return Err(invalid(format!(
                "settings.upload_limit_per_guest must be an integer from 1 to {MAX_UPLOAD_LIMIT}"
            )));
        }
    }
    Ok(())
}

fn as_object(settings: Option<Value>) -> Result<Map<String, Value>, Invalid> {
    match settings {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(invalid("settings must be an object")),
    }
}

fn store_ends_at(settings: &mut Map<String, Value>, ends_at: DateTime<Utc>) {
    settings.remove("endsAt");
    settings.insert(
        "ends_at".into(),
        Value::String(ends_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
}

/// Settings of a new event; returns them with `ends_at` filled in, and the end itself.
pub fn new_event_settings(
    settings: Option<Value>,
    now: DateTime<Utc>,
) -> Result<(Value, DateTime<Utc>), Invalid> {
    let mut settings = as_object(settings)?;
    check_known_fields(&mut settings)?;
    let ends_at = match settings.get("ends_at").or_else(|| settings.get("endsAt")) {
        None | Some(Value::Null) => now + Duration::hours(DEFAULT_EVENT_LENGTH_HOURS),
        Some(value) => parse_time(value, "ends_at")?,
    };
    if ends_at <= now || ends_at > now + Duration::days(MAX_EVENT_LENGTH_DAYS) {
        return Err(invalid(
            "settings.ends_at must lie in the future, within a year",
        ));
    }
    store_ends_at(&mut settings, ends_at);
    Ok((Value::Object(settings), ends_at))
}

/// Merges a host's change into the current settings. `ends_at` may lie in the past: that ends
/// the event (uploads close, the gallery stays readable).
pub fn merge_settings(
    current: &Value,
    patch: Option<Value>,
    current_ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(Value, DateTime<Utc>), Invalid> {
    let mut patch = as_object(patch)?;
    check_known_fields(&mut patch)?;
    let mut merged = current.as_object().cloned().unwrap_or_default();
    let mut ends_at = current_ends_at;
    for (key, value) in patch {
        match key.as_str() {
            "ends_at" | "endsAt" => {
                ends_at = parse_time(&value, "ends_at")?;
                if ends_at > now + Duration::days(MAX_EVENT_LENGTH_DAYS) {
                    return Err(invalid("settings.ends_at must lie within a year"));
                }
            }
            _ if value.is_null() => {
                merged.remove(&key);
            }
            _ => {
                merged.insert(key, value);
            }
        }
    }
    store_ends_at(&mut merged, ends_at);
    Ok((Value::Object(merged), ends_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn new_events_last_two_days_by_default() {
        let now = Utc::now();
        let (settings, ends_at) = new_event_settings(None, now).expect("valid");
        assert_eq!(ends_at, now + Duration::hours(48));
        assert!(settings.get("ends_at").is_some());
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let now = Utc::now();
        for bad in [
            json!([1]),
            json!({"name": 5}),
            json!({"name": "x".repeat(101)}),
            json!({"ends_at": "yesterday"}),
            json!({"ends_at": "2000-01-01T00:00:00Z"}),
            json!({"require_approval": "yes"}),
            json!({"reveal": "never"}),
            json!({"reveal_at": "tomorrow morning"}),
            json!({"guest_downloads": "everything"}),
            json!({"guest_originals": "yes"}),
            json!({"reveal_at": 1_700_000_000}),
            json!({"upload_limit_per_guest": 0}),
            json!({"upload_limit_per_guest": 2.5}),
            json!({"videos": "no"}),
            json!({"max_video_secs": 0}),
            json!({"max_video_secs": 30.5}),
            json!({"n": 1.797_693_134_862_315_7e308}),
            json!({"deep": [{"n": -1e20}]}),
        ] {
            assert!(new_event_settings(Some(bad.clone()), now).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_default_to_an_open_event() {
        let rules = EventRules::from_settings(&json!({}));
        assert!(
            !rules.require_approval
                && rules.guest_delete
                && rules.gallery_visible_to_guests(Utc::now())
        );
        assert!(!rules.needs_guest_id());
        assert!(rules.videos);
        assert_eq!(rules.video_secs_limit(180), 180);
        let short = EventRules::from_settings(&json!({"videos": false, "max_video_secs": 20}));
        assert!(!short.videos);
        assert_eq!(short.video_secs_limit(180), 20);
        assert_eq!(short.video_secs_limit(10), 10);
    }

    #[test]
    fn merging_keeps_other_settings_and_allows_ending_the_event() {
        let now = Utc::now();
        let (current, ends_at) =
            new_event_settings(Some(json!({"name": "A", "theme": "gold"})), now).expect("valid");
        let past = (now - Duration::minutes(1)).to_rfc3339();
        let (merged, new_end) = merge_settings(
            &current,
            Some(json!({"reveal": "after_reveal", "theme": null, "ends_at": past})),
            ends_at,
            now,
        )
        .expect("valid");
        assert_eq!(merged["name"], "A");
        assert!(merged.get("theme").is_none());
        assert!(new_end < now);
        let rules = EventRules::from_settings(&merged);
        assert!(!rules.gallery_visible_to_guests(Utc::now()));
    }
}

#[cfg(test)]
mod reveal_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_timed_reveal_opens_the_gallery_at_its_time() {
        let at = Utc::now() + Duration::hours(8);
        let settings = json!({"reveal_at": at.to_rfc3339()});
        let rules = EventRules::from_settings(&settings);
        assert!(rules.reveal_later);
        assert!(!rules.gallery_visible_to_guests(at - Duration::seconds(1)));
        assert_eq!(
            rules.reveal_pending_until(at - Duration::seconds(1)),
            Some(at)
        );
        assert!(rules.gallery_visible_to_guests(at));
        assert_eq!(rules.reveal_pending_until(at), None);
        assert_eq!(
            effective_settings(settings.clone(), at - Duration::seconds(1)).get("revealed"),
            None
        );
        assert_eq!(effective_settings(settings, at)["revealed"], json!(true));
    }

    #[test]
    fn the_host_may_reveal_before_the_time() {
        let at = Utc::now() + Duration::hours(8);
        let rules =
            EventRules::from_settings(&json!({"reveal_at": at.to_rfc3339(), "revealed": true}));
        assert!(rules.gallery_visible_to_guests(Utc::now()));
        assert_eq!(rules.reveal_pending_until(Utc::now()), None);
    }
}
