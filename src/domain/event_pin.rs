//! An event's PIN or password, asked once when a guest joins. The host sets it as `pin` in the
//! settings; only its Argon2 hash is kept there (`pin_hash`), and every view shows
//! `protected: true` instead.

use serde_json::{Map, Value};

use super::values::Invalid;

/// Written by the server only; never shown.
const PIN_HASH: &str = "pin_hash";
/// Whether the PIN is all digits, so the join page can offer a number pad.
const PIN_NUMERIC: &str = "pin_numeric";
/// In views only: the event asks for a PIN at join.
const PROTECTED: &str = "protected";
/// What the host sends (a new PIN, or `null` to remove it); never stored.
const PIN: &str = "pin";

const MIN_CHARS: usize = 4;
const MAX_CHARS: usize = 64;

/// A PIN or password as the host set it or a guest typed it (surrounding spaces trimmed).
pub struct EventPin(String);

impl EventPin {
    pub fn parse(value: &str) -> Result<Self, Invalid> {
        let value = value.trim();
        let chars = value.chars().count();
        if !(MIN_CHARS..=MAX_CHARS).contains(&chars) || value.chars().any(char::is_control) {
            return Err(Invalid::new(format!(
                "settings.pin must be {MIN_CHARS} to {MAX_CHARS} characters"
            )));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_numeric(&self) -> bool {
        self.0.chars().all(|c| c.is_ascii_digit())
    }
}

impl std::fmt::Debug for EventPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventPin([REDACTED])")
    }
}

/// What a settings change does to the PIN.
#[derive(Debug)]
pub enum PinChange {
    Keep,
    Set(EventPin),
    Clear,
}

/// Takes `pin` out of a settings change and drops the keys only the server writes, so a client
/// can neither set a hash nor fake `protected`.
pub fn take_pin_change(patch: &mut Option<Value>) -> Result<PinChange, Invalid> {
    let Some(Value::Object(map)) = patch else {
        return Ok(PinChange::Keep);
    };
    map.remove(PIN_HASH);
    map.remove(PIN_NUMERIC);
    map.remove(PROTECTED);
    match map.remove(PIN) {
        None => Ok(PinChange::Keep),
        Some(Value::Null) => Ok(PinChange::Clear),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(PinChange::Clear),
        Some(Value::String(s)) => EventPin::parse(&s).map(PinChange::Set),
        Some(_) => Err(Invalid::new("settings.pin must be a string or null")),
    }
}

/// Stores a new PIN's hash (`Some((hash, numeric))`) or removes the PIN (`None`).
pub fn store_pin(settings: &mut Value, pin: Option<(String, bool)>) {
    let Some(map) = settings.as_object_mut() else {
        return;
    };
    match pin {
        Some((hash, numeric)) => {
            map.insert(PIN_HASH.into(), Value::String(hash));
            map.insert(PIN_NUMERIC.into(), Value::Bool(numeric));
        }
        None => {
            map.remove(PIN_HASH);
            map.remove(PIN_NUMERIC);
        }
    }
}

/// The stored hash of the event's PIN; `None` when the event is not protected. Only an Argon2
/// PHC string counts: a `pin_hash` key some client stored before PINs existed protects nothing.
pub fn pin_hash(settings: &Value) -> Option<&str> {
    settings
        .get(PIN_HASH)
        .and_then(Value::as_str)
        .filter(|h| h.starts_with("$argon2"))
}

pub fn is_protected(settings: &Value) -> bool {
    pin_hash(settings).is_some()
}

/// The settings as clients read them: the hash gone, `protected: true` (with `pin_numeric`) in
/// its place; an unprotected event's settings read as before.
pub fn public_view(map: &mut Map<String, Value>) {
    let protected = map
        .get(PIN_HASH)
        .and_then(Value::as_str)
        .is_some_and(|h| h.starts_with("$argon2"));
    map.remove(PIN_HASH);
    if protected {
        map.insert(PROTECTED.into(), Value::Bool(true));
    } else {
        map.remove(PIN_NUMERIC);
        map.remove(PROTECTED);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pin_is_trimmed_and_checked() {
        assert_eq!(EventPin::parse(" 1234 ").expect("pin").as_str(), "1234");
        assert!(EventPin::parse("1234").expect("pin").is_numeric());
        assert!(!EventPin::parse("Rosen2026").expect("pin").is_numeric());
        assert!(EventPin::parse("123").is_err());
        assert!(EventPin::parse(&"x".repeat(65)).is_err());
        assert!(EventPin::parse("12\n34").is_err());
        assert!(!format!("{:?}", EventPin::parse("1234").expect("pin")).contains("1234"));
    }

    #[test]
    fn a_change_takes_the_pin_and_drops_server_keys() {
        let mut patch =
            Some(json!({"pin": "4711", "pin_hash": "x", "protected": false, "name": "A"}));
        assert!(
            matches!(take_pin_change(&mut patch), Ok(PinChange::Set(p)) if p.as_str() == "4711")
        );
        assert_eq!(patch, Some(json!({"name": "A"})));
        let mut clear = Some(json!({"pin": null}));
        assert!(matches!(take_pin_change(&mut clear), Ok(PinChange::Clear)));
        let mut keep = Some(json!({"name": "B"}));
        assert!(matches!(take_pin_change(&mut keep), Ok(PinChange::Keep)));
        assert!(take_pin_change(&mut Some(json!({"pin": 1234}))).is_err());
    }

    #[test]
    fn views_never_show_the_hash() {
        let mut settings = json!({"name": "A"});
        store_pin(&mut settings, Some(("$argon2id$secret".into(), true)));
        assert_eq!(pin_hash(&settings), Some("$argon2id$secret"));
        let mut view = settings.as_object().cloned().expect("object");
        public_view(&mut view);
        assert_eq!(
            Value::Object(view),
            json!({"name": "A", "protected": true, "pin_numeric": true})
        );
        store_pin(&mut settings, None);
        assert!(!is_protected(&settings));
        assert!(!is_protected(&json!({"pin_hash": "not a hash"})));
        let mut view = settings.as_object().cloned().expect("object");
        public_view(&mut view);
        assert_eq!(Value::Object(view), json!({"name": "A"}));
    }
}
