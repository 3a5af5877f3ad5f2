//! Identity verification: a site's own backend vouches for a signed-in user
//! with a JWT it signs with the site's secret (HS256). The server checks
//! the signature, the algorithm, the expiry and the claims here; what a
//! verified identity may then do is in [`crate::api::identity`].
//!
//! Rules:
//! - The header's `alg` must be `HS256`: `none`, the other HMAC sizes and
//!   every public-key algorithm are refused (no algorithm confusion).
//! - The key is the site's secret as UTF-8 bytes.
//! - `exp` (Unix seconds) is required and must be in the future, by the
//!   server's clock, with [`LEEWAY_SECS`] for clocks that differ a little.
//!   `nbf`, when present, must not be in the future (same leeway).
//! - `sub` (the user's id in the site's own system) is required: a string
//!   of 1 to [`MAX_SUBJECT_CHARS`] characters, none of them a control
//!   character. It is kept exactly as given (case and spaces matter).
//! - `name` and `email` are optional and trusted (the site's backend
//!   signed them). A name is trimmed and cut to [`MAX_NAME_CHARS`]; an
//!   email that is not a valid address is ignored (the identity still
//!   counts), so a bad address in the site's user table never locks a user
//!   out of their history.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Seconds a token may be past its `exp` (or before its `nbf`) and still
/// count, for clocks that are not quite in step.
pub const LEEWAY_SECS: i64 = 30;

/// Longest lifetime a token may claim (`exp` this far ahead at most):
/// identities are meant to be signed for each page view and to expire
/// within minutes; a token valid for years would be a password that never
/// changes.
pub const MAX_LIFETIME_SECS: i64 = 24 * 3600;

/// Longest `sub`, in characters.
pub const MAX_SUBJECT_CHARS: usize = 255;

/// Longest name kept, in characters (a longer one is cut).
pub const MAX_NAME_CHARS: usize = 255;

/// Longest token looked at, in bytes; longer is refused unread.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A user vouched for by the site's backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's id on the site (`sub`).
    pub external_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed, wrongly signed, another algorithm, or a claim missing or
    /// wrong; the text says which (safe to show: it names no secret).
    Invalid(&'static str),
    /// Well signed, but its `exp` has passed.
    Expired,
}

/// The claims read from the payload. Numbers may be integers or floats
/// (`Date.now() / 1000` without rounding is common).
#[derive(Deserialize)]
struct Claims {
    sub: Option<serde_json::Value>,
    exp: Option<serde_json::Value>,
    nbf: Option<serde_json::Value>,
    name: Option<serde_json::Value>,
    email: Option<serde_json::Value>,
}

/// Checks `token` against the site's `secret` at `now_ms` (Unix ms, by the
/// server's clock).
pub fn verify(token: &str, secret: &str, now_ms: i64) -> Result<Identity, Refusal> {
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(Refusal::Invalid("the identity token is empty or too long"));
    }
    // Only the signature and the algorithm are left to the library; the
    // times are checked below by the server's clock (tests use their own).
    let mut validation = Validation::new(Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|err| {
        Refusal::Invalid(match err.kind() {
            ErrorKind::InvalidSignature => "the identity token's signature does not match",
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::MissingAlgorithm
            | ErrorKind::UnsupportedAlgorithm => "the identity token must be signed with HS256",
            _ => "the identity token is not a well-formed JWT",
        })
    })?;
    let claims = data.claims;

    let now_secs = now_ms.div_euclid(1000);
    let exp = claims
        .exp
        .as_ref()
        .ok_or(Refusal::Invalid("the identity token has no exp"))
        .and_then(|v| seconds(v).ok_or(Refusal::Invalid("exp must be a number of seconds")))?;
    if exp + LEEWAY_SECS <= now_secs {
        return Err(Refusal::Expired);
    }
    if exp - now_secs > MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(Refusal::Invalid(
            "the identity token lives too long: exp may be at most 24 hours ahead",
        ));
    }
    if let Some(nbf) = &claims.nbf {
        let nbf = seconds(nbf).ok_or(Refusal::Invalid("nbf must be a number of seconds"))?;
        if nbf > now_secs + LEEWAY_SECS {
            return Err(Refusal::Invalid(
                "the identity token is not valid yet (nbf)",
            ));
        }
    }

    let external_id = match claims.sub {
        Some(serde_json::Value::String(sub)) => sub,
        Some(_) => return Err(Refusal::Invalid("sub must be a string")),
        None => return Err(Refusal::Invalid("the identity token has no sub")),
    };
    let length = external_id.chars().count();
    if length == 0 || length > MAX_SUBJECT_CHARS {
        return Err(Refusal::Invalid("sub must be 1 to 255 characters"));
    }
    if external_id.chars().any(char::is_control) {
        return Err(Refusal::Invalid("sub must not contain control characters"));
    }

    let name = match claims.name {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(name)) => {
            let name: String = name
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_NAME_CHARS)
                .collect();
            let name = name.trim_end().to_owned();
            (!name.is_empty()).then_some(name)
        }
        Some(_) => return Err(Refusal::Invalid("name must be a string")),
    };
    let email = match claims.email {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(email)) => {
            let email = email.trim();
            match messenger_wire::validate_email(email) {
                Ok(()) => Some(email.to_owned()),
                Err(_) => {
                    tracing::warn!("an identity token's email is not a valid address; ignored");
                    None
                }
            }
        }
        Some(_) => return Err(Refusal::Invalid("email must be a string")),
    };
    Ok(Identity {
        external_id,
        name,
        email,
    })
}

/// A JSON number of seconds, integer or not (rounded down).
fn seconds(value: &serde_json::Value) -> Option<i64> {
    let number = value.as_number()?;
    if let Some(n) = number.as_i64() {
        return Some(n);
    }
    let f = number.as_f64()?;
    (f.is_finite() && f.abs() < 1e15).then(|| f.floor() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    const SECRET: &str = "site-secret-for-tests";
    const NOW_MS: i64 = 1_800_000_000_000;

    fn sign(claims: serde_json::Value, alg: Algorithm, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    fn hs256(claims: serde_json::Value) -> String {
        sign(claims, Algorithm::HS256, SECRET)
    }

    #[test]
    fn accepts_a_well_signed_token() {
        let token = hs256(
            json!({"sub": "user-1", "exp": 1_800_000_060, "name": " Ada ",
                                  "email": "ada@example.com", "iat": 1_800_000_000}),
        );
        let identity = verify(&token, SECRET, NOW_MS).unwrap();
        assert_eq!(identity.external_id, "user-1");
        assert_eq!(identity.name.as_deref(), Some("Ada"));
        assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
    }

    #[test]
    fn a_float_exp_counts() {
        let token = hs256(json!({"sub": "u", "exp": 1_800_000_060.5}));
        assert!(verify(&token, SECRET, NOW_MS).is_ok());
    }

    #[test]
    fn expired_within_and_past_the_leeway() {
        let token = hs256(json!({"sub": "u", "exp": 1_800_000_000 - 10}));
        assert!(verify(&token, SECRET, NOW_MS).is_ok());
        let token = hs256(json!({"sub": "u", "exp": 1_800_000_000 - LEEWAY_SECS}));
        assert_eq!(verify(&token, SECRET, NOW_MS), Err(Refusal::Expired));
    }

    #[test]
    fn refuses_other_algorithms_and_keys() {
        let claims = json!({"sub": "u", "exp": 1_800_000_060});
        let token = sign(claims.clone(), Algorithm::HS512, SECRET);
        assert!(matches!(
            verify(&token, SECRET, NOW_MS),
            Err(Refusal::Invalid(_))
        ));
        let token = sign(claims.clone(), Algorithm::HS256, "another secret");
        assert!(matches!(
            verify(&token, SECRET, NOW_MS),
            Err(Refusal::Invalid(_))
        ));
        // alg none: a header and a payload, no signature.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(claims.to_string())
        );
        assert!(matches!(
            verify(&token, SECRET, NOW_MS),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn refuses_missing_or_bad_claims() {
        for claims in [
            json!({"exp": 1_800_000_060}),
            json!({"sub": "u"}),
            json!({"sub": "", "exp": 1_800_000_060}),
            json!({"sub": 42, "exp": 1_800_000_060}),
            json!({"sub": "x".repeat(256), "exp": 1_800_000_060}),
            json!({"sub": "a\nb", "exp": 1_800_000_060}),
            json!({"sub": "u", "exp": "tomorrow"}),
            json!({"sub": "u", "exp": 1_800_000_060, "nbf": 1_800_000_600}),
        ] {
            let token = hs256(claims.clone());
            assert!(
                matches!(verify(&token, SECRET, NOW_MS), Err(Refusal::Invalid(_))),
                "{claims}"
            );
        }
        assert!(
            verify(
                &hs256(json!({"sub": "x".repeat(255), "exp": 1_800_000_060})),
                SECRET,
                NOW_MS
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bad_email_is_ignored() {
        let token = hs256(json!({"sub": "u", "exp": 1_800_000_060, "email": "not an address"}));
        assert_eq!(verify(&token, SECRET, NOW_MS).unwrap().email, None);
    }

    #[test]
    fn garbage_is_invalid() {
        for token in ["", "abc", "a.b.c", "....."] {
            assert!(matches!(
                verify(token, SECRET, NOW_MS),
                Err(Refusal::Invalid(_))
            ));
        }
    }
}
