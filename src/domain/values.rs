//! Newtypes for input that must be valid before it reaches the domain.

use uuid::Uuid;

/// A validation failure, phrased for the person who sent the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub message: String,
    /// A required field was absent (rather than malformed).
    pub missing: bool,
}

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            missing: false,
        }
    }

    pub fn missing(field: &str) -> Self {
        Self {
            message: format!("{field} is required"),
            missing: true,
        }
    }
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid::new(message)
}

/// Requires a field to be present; `field` names it in the message.
pub fn required<T>(value: Option<T>, field: &str) -> Result<T, Invalid> {
    value.ok_or_else(|| Invalid::missing(field))
}

/// A required field holding a UUID.
pub fn required_uuid(value: Option<String>, field: &str) -> Result<Uuid, Invalid> {
    parse_uuid(&required(value, field)?, field)
}

/// Parses an id that must be a UUID.
pub fn parse_uuid(value: &str, field: &str) -> Result<Uuid, Invalid> {
    Uuid::parse_str(value.trim()).map_err(|_| invalid(format!("{field} must be a valid UUID")))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalized: String,
}

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("email is required"));
        }
        if trimmed.len() > Self::MAX_LEN || !email_address::EmailAddress::is_valid(trimmed) {
            return Err(invalid("email must be a valid email address"));
        }
        // The domain part needs a dot: "a@localhost" is valid per RFC but never a guest's address.
        let domain = trimmed.rsplit('@').next().unwrap_or_default();
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(invalid("email must be a valid email address"));
        }
        Ok(Self {
            display: trimmed.to_owned(),
            normalized: trimmed.to_lowercase(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form uniqueness is checked on: emails are case-insensitive.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// A display name: a host's username or a guest's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 50;

    pub fn parse(raw: &str, field: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid(format!("{field} must not be empty")));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(invalid(format!(
                "{field} must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(invalid(format!(
                "{field} must not contain control characters"
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    /// Bounds hashing cost and memory for absurd inputs.
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(raw: String) -> Result<Self, Invalid> {
        if raw.chars().count() < Self::MIN_CHARS {
            return Err(invalid(format!(
                "password must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(invalid(format!(
                "password must be at most {} bytes",
                Self::MAX_BYTES
            )));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A file name as the guest's device named it; only kept for display and downloads.
pub fn parse_original_filename(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if raw.chars().count() > 255 {
        return Err(invalid("original_filename must be at most 255 characters"));
    }
    // Keep the last path component only and drop control characters.
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    Ok(Some(cleaned).filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_normalized_to_lowercase() {
        let email = Email::parse("  Anna@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "Anna@Example.COM");
        assert_eq!(email.normalized(), "anna@example.com");
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.com",
            "anna@localhost",
            "a b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn names_are_bounded_to_fifty_characters() {
        assert!(Name::parse(&"ä".repeat(50), "username").is_ok());
        assert!(Name::parse(&"ä".repeat(51), "username").is_err());
        assert!(Name::parse("   ", "username").is_err());
    }

    #[test]
    fn short_passwords_are_rejected() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
    }

    #[test]
    fn original_filename_keeps_only_the_last_component() {
        assert_eq!(
            parse_original_filename(Some("../../etc/passwd")).expect("ok"),
            Some("passwd".into())
        );
        assert_eq!(
            parse_original_filename(Some("C:\\img\\a.jpg")).expect("ok"),
            Some("a.jpg".into())
        );
        assert_eq!(parse_original_filename(Some("  ")).expect("ok"), None);
    }
}
