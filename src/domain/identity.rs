//! An event's identity, set by its host in the event settings: a cover photo, a welcome text
//! and an accent colour. Guests see them on the join page, the gallery header, the slideshow,
//! the table cards and in link previews.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::values::Invalid;

pub const MAX_WELCOME_TEXT_CHARS: usize = 500;

/// The identity fields of an event's settings, as the server understands them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventIdentity {
    /// One of the event's own approved photos.
    pub cover_picture_id: Option<Uuid>,
    pub welcome_text: Option<String>,
    /// `#rrggbb`, lower case.
    pub accent_color: Option<String>,
}

impl EventIdentity {
    /// Reads stored settings (checked when they were saved; anything else counts as unset).
    pub fn from_settings(settings: &Value) -> Self {
        let text = |key: &str| settings.get(key).and_then(Value::as_str).map(str::to_owned);
        Self {
            cover_picture_id: text("cover_picture_id").and_then(|id| id.parse().ok()),
            welcome_text: text("welcome_text").filter(|t| !t.trim().is_empty()),
            accent_color: text("accent_color").filter(|c| is_hex_colour(c)),
        }
    }
}

fn is_hex_colour(text: &str) -> bool {
    text.len() == 7 && text.starts_with('#') && text[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// Checks the identity fields of a settings object or patch (`null` removes a field) and
/// normalizes them: the colour to lower case, the cover id to its canonical form.
pub fn check_identity_fields(settings: &mut Map<String, Value>) -> Result<(), Invalid> {
    match settings.get("welcome_text") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.chars().count() <= MAX_WELCOME_TEXT_CHARS => {}
        Some(Value::String(_)) => {
            return Err(Invalid::new(format!(
                "settings.welcome_text must be at most {MAX_WELCOME_TEXT_CHARS} characters"
            )));
        }
        Some(_) => return Err(Invalid::new("settings.welcome_text must be a string")),
    }
    match settings.get_mut("accent_color") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if is_hex_colour(s) => *s = s.to_ascii_lowercase(),
        Some(_) => {
            return Err(Invalid::new(
                "settings.accent_color must be a colour like \"#b4536a\"",
            ));
        }
    }
    match settings.get_mut("cover_picture_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.parse::<Uuid>().is_ok() => {
            *s = s
                .parse::<Uuid>()
                .map(|id| id.to_string())
                .unwrap_or_default();
        }
        Some(_) => {
            return Err(Invalid::new(
                "settings.cover_picture_id must be the id of one of the event's photos",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn checked(value: Value) -> Result<Map<String, Value>, Invalid> {
        let Value::Object(mut map) = value else {
            panic!("an object")
        };
        check_identity_fields(&mut map).map(|()| map)
    }

    #[test]
    fn identity_fields_are_checked_and_normalized() {
        let id = Uuid::new_v4();
        let map = checked(json!({
            "welcome_text": "Willkommen!",
            "accent_color": "#B4536A",
            "cover_picture_id": id.to_string().to_uppercase(),
        }))
        .expect("valid");
        assert_eq!(map["accent_color"], "#b4536a");
        assert_eq!(map["cover_picture_id"], id.to_string());
        let identity = EventIdentity::from_settings(&Value::Object(map));
        assert_eq!(identity.cover_picture_id, Some(id));
        assert_eq!(identity.welcome_text.as_deref(), Some("Willkommen!"));
    }

    #[test]
    fn bad_identity_fields_are_rejected() {
        for bad in [
            json!({"welcome_text": 5}),
            json!({"welcome_text": "x".repeat(MAX_WELCOME_TEXT_CHARS + 1)}),
            json!({"accent_color": "red"}),
            json!({"accent_color": "#12345"}),
            json!({"accent_color": "#12345g"}),
            json!({"accent_color": "#ffffff; x"}),
            json!({"cover_picture_id": "cover.jpg"}),
            json!({"cover_picture_id": 7}),
        ] {
            assert!(checked(bad.clone()).is_err(), "{bad}");
        }
        assert!(checked(json!({"accent_color": null, "cover_picture_id": null})).is_ok());
    }

    #[test]
    fn stored_nonsense_counts_as_unset() {
        let identity = EventIdentity::from_settings(
            &json!({"accent_color": "blue", "cover_picture_id": "x", "welcome_text": "  "}),
        );
        assert_eq!(identity, EventIdentity::default());
    }
}
