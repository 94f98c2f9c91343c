//! Comments on photos: short texts, counted in characters (not bytes) after trimming, and
//! whether the host has let others see them yet.

use serde::{Deserialize, Serialize};

/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 280;

/// Why a text is no comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentTextError {
    Empty,
    TooLong,
}

/// A comment's text: trimmed, 1..=280 characters. Kept exactly as written otherwise: clients
/// show it as text, never as markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentText(String);

impl CommentText {
    pub fn parse(raw: &str) -> Result<Self, CommentTextError> {
        let text = raw.trim();
        match text.chars().count() {
            0 => Err(CommentTextError::Empty),
            n if n > MAX_COMMENT_CHARS => Err(CommentTextError::TooLong),
            _ => Ok(Self(text.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether others see a comment: `pending` ones wait for the host (`comment_approval`) and are
/// shown to their author and the host only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommentStatus {
    Approved,
    Pending,
}

impl CommentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Pending => "pending",
        }
    }

    /// Anything but `pending` reads as approved (rows are only ever written with the two).
    pub fn parse(value: &str) -> Self {
        if value == "pending" {
            Self::Pending
        } else {
            Self::Approved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_counted_in_characters() {
        assert_eq!(
            CommentText::parse("  hello \n").map(|t| t.as_str().to_owned()),
            Ok("hello".to_owned())
        );
        assert_eq!(CommentText::parse(" \n\t "), Err(CommentTextError::Empty));
        // 280 emoji are 1120 bytes but 280 characters: allowed; one more is too long.
        let emoji = "🎉".repeat(MAX_COMMENT_CHARS);
        assert!(CommentText::parse(&emoji).is_ok());
        assert_eq!(
            CommentText::parse(&format!("{emoji}!")),
            Err(CommentTextError::TooLong)
        );
    }

    #[test]
    fn markup_is_kept_as_written() {
        let text = CommentText::parse("<img src=x onerror=alert(1)>").expect("text");
        assert_eq!(text.as_str(), "<img src=x onerror=alert(1)>");
    }

    #[test]
    fn status_round_trips() {
        for status in [CommentStatus::Approved, CommentStatus::Pending] {
            assert_eq!(CommentStatus::parse(status.as_str()), status);
        }
    }
}
