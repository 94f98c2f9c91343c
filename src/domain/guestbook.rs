//! Guestbook messages: longer than a comment, and kept as written except for the surrounding
//! whitespace. Line breaks are allowed; other control characters are not (they print as
//! garbage, or hide text, on the slideshow and in the printed page).

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// Why a text is no guestbook message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageTextError {
    Empty,
    TooLong,
    ControlCharacter,
}

/// A message's text: trimmed, 1..=1000 characters, line breaks as `\n`, no other control
/// characters. Clients show it as text, never as markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, MessageTextError> {
        // Windows and old-Mac line ends become `\n`, so one rule covers every client.
        let text = raw.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim();
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(MessageTextError::ControlCharacter);
        }
        match text.chars().count() {
            0 => Err(MessageTextError::Empty),
            n if n > MAX_MESSAGE_CHARS => Err(MessageTextError::TooLong),
            _ => Ok(Self(text.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> Result<String, MessageTextError> {
        MessageText::parse(raw).map(|t| t.as_str().to_owned())
    }

    #[test]
    fn text_is_trimmed_and_keeps_its_line_breaks() {
        assert_eq!(
            parsed("  Alles Gute!\r\nEure Erna \n"),
            Ok("Alles Gute!\nEure Erna".to_owned())
        );
        assert_eq!(parsed(" \n\t "), Err(MessageTextError::Empty));
    }

    #[test]
    fn length_is_counted_in_characters() {
        let emoji = "🎉".repeat(MAX_MESSAGE_CHARS);
        assert!(MessageText::parse(&emoji).is_ok());
        assert_eq!(parsed(&format!("{emoji}!")), Err(MessageTextError::TooLong));
    }

    #[test]
    fn control_characters_other_than_line_breaks_are_refused() {
        for raw in ["a\u{0}b", "a\u{1b}[31mb", "tab\there", "a\u{7f}b"] {
            assert_eq!(
                parsed(raw),
                Err(MessageTextError::ControlCharacter),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn markup_is_kept_as_written() {
        assert_eq!(
            parsed("<script>alert(1)</script>"),
            Ok("<script>alert(1)</script>".to_owned())
        );
    }
}
