//! Join codes: eight characters a guest can read off a card and type (`K7QM-2XDP`). The alphabet
//! leaves out what is misread (0/O, 1/I/L) and U; 30^8 ≈ 6.6 × 10^11 codes, and lookups are
//! rate-limited per address, so guessing one is hopeless.

use std::fmt;

use rand::Rng;

/// The characters of a code, in no particular order.
pub const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code (shown as two groups of four).
pub const LENGTH: usize = 8;

/// A well-formed join code, stored and compared in its compact form (`K7QM2XDP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCode(String);

impl JoinCode {
    /// A new random code.
    pub fn generate(rng: &mut impl Rng) -> Self {
        let code = (0..LENGTH)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect();
        Self(code)
    }

    /// What a guest typed: case, spaces and dashes do not matter. `None` when it cannot be a
    /// code (wrong length or a character outside the alphabet).
    pub fn parse(input: &str) -> Option<Self> {
        let compact: String = input
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '\u{2010}'..='\u{2015}'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        (compact.len() == LENGTH && compact.bytes().all(|b| ALPHABET.contains(&b)))
            .then_some(Self(compact))
    }

    /// `K7QM2XDP`: for links and storage.
    pub fn compact(&self) -> &str {
        &self.0
    }
}

/// `K7QM-2XDP`: for people.
impl fmt::Display for JoinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = self.0.split_at(LENGTH / 2);
        write!(f, "{a}-{b}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse_back_and_avoid_ambiguous_characters() {
        let mut rng = rand::rng();
        for _ in 0..1000 {
            let code = JoinCode::generate(&mut rng);
            assert!(!code.compact().contains(['0', 'O', '1', 'I', 'L']));
            assert_eq!(JoinCode::parse(&code.to_string()), Some(code.clone()));
            assert_eq!(JoinCode::parse(code.compact()), Some(code));
        }
    }

    #[test]
    fn typing_is_forgiving_but_only_codes_parse() {
        let code = JoinCode::parse(" k7qm-2xdp ").expect("a code");
        assert_eq!(code.compact(), "K7QM2XDP");
        assert_eq!(code.to_string(), "K7QM-2XDP");
        for bad in [
            "",
            "K7QM2XD",
            "K7QM2XDPP",
            "K7QM-2XD0",
            "K7QM-2XDI",
            "../etc/pa",
            "K7QM2XDé",
        ] {
            assert_eq!(JoinCode::parse(bad), None, "{bad:?}");
        }
    }
}
