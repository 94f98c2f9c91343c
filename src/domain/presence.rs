//! When a guest counts as "online": their phone sent a heartbeat (or they came back) recently.
//! The web client beats every 30 s while visible, so a guest who leaves drops out within a minute.

use chrono::{DateTime, Duration, Utc};

/// A guest counts as online when last seen this recently.
pub const ONLINE_WINDOW_SECS: i64 = 60;

/// Guests seen after this moment are online at `now`.
pub fn online_since(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::seconds(ONLINE_WINDOW_SECS)
}

pub fn is_online(last_seen: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    last_seen > online_since(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_drops_out_a_minute_after_the_last_heartbeat() {
        let now = Utc::now();
        assert!(is_online(now - Duration::seconds(59), now));
        assert!(!is_online(now - Duration::seconds(61), now));
    }
}
