//! Random identifiers and secrets, all from the operating system's CSPRNG.
//!
//! Conversation tokens carry 256 bits of randomness and are stored only as
//! their SHA-256 hash: a fast hash is enough for secrets this long (there is
//! nothing to brute-force), and it lets the lookup use an index.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Prefix of conversation tokens, so a leaked one is recognisable (secret
/// scanners) and cannot be mistaken for another kind of credential.
const TOKEN_PREFIX: &str = "mwc_";

fn random_string<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new conversation token: `mwc_` and 43 base64url characters (256 bits).
pub fn conversation_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_string::<32>())
}

/// What the database keeps of a token (or of an API key).
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Public conversation id: 128 random bits, hex, prefixed `c_`. Ids contain
/// only `[A-Za-z0-9_]`, which cursors rely on.
pub fn conversation_id() -> String {
    format!("c_{}", hex::<16>())
}

pub fn message_id() -> String {
    format!("m_{}", hex::<16>())
}

fn hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = conversation_token();
        let b = conversation_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert!(a.starts_with(TOKEN_PREFIX));
    }

    #[test]
    fn ids_use_only_cursor_safe_characters() {
        for id in [conversation_id(), message_id()] {
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        }
    }
}
