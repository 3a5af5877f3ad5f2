//! Random identifiers and secrets, all from the operating system's CSPRNG.
//!
//! Conversation tokens carry 256 bits of randomness and are stored only as
//! their SHA-256 hash: a fast hash is enough for secrets this long (there is
//! nothing to brute-force), and it lets the lookup use an index. Inbox
//! session tokens and agent API keys work the same way. Passwords, which people choose, are
//! another matter: see [`crate::accounts`].

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

/// Prefix of inbox session tokens (the `mw_session` cookie).
const SESSION_TOKEN_PREFIX: &str = "mws_";

/// A new inbox session token: `mws_` and 43 base64url characters (256 bits).
pub fn session_token() -> String {
    format!("{SESSION_TOKEN_PREFIX}{}", random_string::<32>())
}

/// A new agent API key: `mwk_` and 43 base64url characters (256 bits).
pub fn api_key() -> String {
    format!(
        "{}{}",
        messenger_wire::API_KEY_PREFIX,
        random_string::<32>()
    )
}

/// The non-secret hint of an API key: `mwk_` and its next 8 characters.
pub fn api_key_hint(key: &str) -> String {
    key.chars()
        .take(messenger_wire::API_KEY_PREFIX.len() + 8)
        .collect()
}

/// The CSRF token of a session, derived from its token rather than stored:
/// only the holder of the cookie can compute it, a reloaded page gets it
/// back from `GET /inbox/session`, and the database (which holds only the
/// token's plain SHA-256) does not reveal it. The label keeps the two hashes
/// of one token apart.
pub fn csrf_token(session_token: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"messenger csrf token\0");
    hasher.update(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
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

/// A name for this server instance among those sharing one database (for
/// leases and presence rows): its process id and 64 random bits.
pub fn instance_id() -> String {
    format!("pid{}-{}", std::process::id(), hex::<8>())
}

pub fn message_id() -> String {
    format!("m_{}", hex::<16>())
}

/// Internal note id: `n_` and 128 random bits in hex.
pub fn note_id() -> String {
    format!("n_{}", hex::<16>())
}

/// Customer id (not a secret): `u_` and 128 random bits in hex.
pub fn customer_id() -> String {
    format!("u_{}", hex::<16>())
}

/// A one-time code for a link in an email (resume, unsubscribe): 256
/// random bits, base64url; stored hashed like tokens.
pub fn email_code() -> String {
    random_string::<32>()
}

/// Agent account id: `a_` and 128 random bits in hex.
pub fn agent_id() -> String {
    format!("a_{}", hex::<16>())
}

/// Agent API key id (not a secret): `k_` and 128 random bits in hex.
pub fn api_key_id() -> String {
    format!("k_{}", hex::<16>())
}

/// Inbox session id (not a secret: it names the session in revocations).
pub fn session_id() -> String {
    format!("s_{}", hex::<16>())
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
    fn session_tokens_are_prefixed_and_their_csrf_tokens_differ() {
        let a = session_token();
        assert!(a.starts_with(SESSION_TOKEN_PREFIX));
        assert_eq!(a.len(), SESSION_TOKEN_PREFIX.len() + 43);
        assert_eq!(csrf_token(&a), csrf_token(&a));
        assert_ne!(csrf_token(&a), csrf_token(&session_token()));
        assert_ne!(csrf_token(&a).as_bytes(), &hash_secret(&a)[..]);
    }

    #[test]
    fn api_keys_are_prefixed_and_their_hint_is_short() {
        let key = api_key();
        assert!(key.starts_with("mwk_"));
        assert_eq!(key.len(), 4 + 43);
        assert_ne!(key, api_key());
        let hint = api_key_hint(&key);
        assert_eq!(hint.len(), 12);
        assert!(key.starts_with(&hint));
    }

    #[test]
    fn ids_use_only_cursor_safe_characters() {
        for id in [
            conversation_id(),
            message_id(),
            note_id(),
            agent_id(),
            session_id(),
            api_key_id(),
        ] {
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        }
    }
}
