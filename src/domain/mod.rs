//! Domain rules: validated values ("parse, don't validate"), password hashing, tokens, photo keys.

pub mod comment;
pub mod event_pin;
pub mod guestbook;
pub mod host_role;
pub mod identity;
pub mod image;
pub mod join_code;
pub mod media;
pub mod missions;
pub mod password;
pub mod photo_key;
pub mod presence;
pub mod reaction;
pub mod rules;
pub mod token;
pub mod values;
pub mod variants;
pub mod visibility;
