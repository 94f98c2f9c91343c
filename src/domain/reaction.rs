//! Reactions to a photo: one of four emoji, sent and stored by stable names so clients can
//! render them as they like and new ones can be added without touching old rows.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reaction {
    /// ❤️
    Heart,
    /// 😂
    Laugh,
    /// 😮
    Wow,
    /// 🎉
    Party,
}

impl Reaction {
    pub const ALL: [Reaction; 4] = [Self::Heart, Self::Laugh, Self::Wow, Self::Party];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Heart => "heart",
            Self::Laugh => "laugh",
            Self::Wow => "wow",
            Self::Party => "party",
        }
    }

    /// `None` for anything but the four stable names.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

/// How many people reacted to a photo with each reaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReactionCounts {
    pub heart: i64,
    pub laugh: i64,
    pub wow: i64,
    pub party: i64,
}

impl ReactionCounts {
    /// Adds `count` reactions of the kind stored as `name`; unknown names (rows of a newer
    /// version) are left out rather than failing the gallery.
    pub fn add(&mut self, name: &str, count: i64) {
        match Reaction::parse(name) {
            Some(Reaction::Heart) => self.heart += count,
            Some(Reaction::Laugh) => self.laugh += count,
            Some(Reaction::Wow) => self.wow += count,
            Some(Reaction::Party) => self.party += count,
            None => {}
        }
    }

    pub fn total(&self) -> i64 {
        self.heart + self.laugh + self.wow + self.party
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_rejected() {
        for reaction in Reaction::ALL {
            assert_eq!(Reaction::parse(reaction.as_str()), Some(reaction));
        }
        assert!(Reaction::parse("❤️").is_none());
        assert!(Reaction::parse("Heart").is_none());
    }

    #[test]
    fn counts_ignore_unknown_names() {
        let mut counts = ReactionCounts::default();
        counts.add("heart", 2);
        counts.add("thumbs", 5);
        counts.add("party", 1);
        assert_eq!((counts.heart, counts.party, counts.total()), (2, 1, 3));
    }
}
