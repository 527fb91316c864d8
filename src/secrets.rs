//! Keeping secrets out of messages that quote a third party.
//!
//! A provider that refuses a key often quotes it ("Incorrect API key provided: sk-…"), and its
//! message would travel on into a response's `detail`, a log line or an audit event. Every
//! message built from a provider's words passes through [`scrub`] first: the secrets the
//! caller knows (the key it sent) are replaced wherever they occur, and so is anything shaped
//! like a key, so that a masked echo ("sk-proj-abc1****wxyz") or another key the provider
//! chose to quote does not leak either.

/// What a removed secret becomes.
pub(crate) const REDACTED: &str = "[redacted]";

/// Prefixes of the keys that the providers and aurra itself hand out.
const KEY_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "pk-",
    "pk_",
    "rk_",
    "xai-",
    "gsk_",
    "hf_",
    "ghp_",
    "gho_",
    "github_pat_",
    "glpat-",
    "AIza",
    "aurra_",
    "key-",
];

/// `text` with every secret of `secrets` (at least 4 characters; shorter ones would match
/// ordinary words) and every key-shaped token replaced by [`REDACTED`].
///
/// The token after `Bearer ` goes too, whatever its shape.
/// Key-shaped: a run of `[A-Za-z0-9_-*.]` that starts with a known key prefix and is at least
/// 12 characters long; or is 24+ characters with upper case, lower case and digits (random
/// base62, as most keys are, but no model name or word); or holds 32+ hexadecimal digits in a
/// row (Azure's keys, bare hashes). A UUID survives (its hex runs are at most 12).
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        let secret = secret.trim();
        if secret.chars().count() >= 4 && out.contains(secret) {
            out = out.replace(secret, REDACTED);
        }
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    let mut after_bearer = false;
    while let Some(start) = rest.find(is_token_char) {
        result.push_str(&rest[..start]);
        let token_len = rest[start..]
            .find(|c: char| !is_token_char(c))
            .unwrap_or(rest.len() - start);
        let token = &rest[start..start + token_len];
        if after_bearer || key_shaped(token) {
            result.push_str(REDACTED);
        } else {
            result.push_str(token);
        }
        after_bearer =
            token.eq_ignore_ascii_case("bearer") && rest[start + token_len..].starts_with(' ');
        rest = &rest[start + token_len..];
    }
    result.push_str(rest);
    result
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '.')
}

fn key_shaped(token: &str) -> bool {
    // A sentence's final full stop is not part of the token.
    let token = token.trim_end_matches('.');
    let prefixed = KEY_PREFIXES
        .iter()
        .any(|p| token.len() >= 12 && token.starts_with(p));
    let random = token.len() >= 24
        && token.chars().any(|c| c.is_ascii_uppercase())
        && token.chars().any(|c| c.is_ascii_lowercase())
        && token.chars().any(|c| c.is_ascii_digit());
    let mut hex_run = 0usize;
    let mut longest_hex = 0usize;
    for c in token.chars() {
        hex_run = if c.is_ascii_hexdigit() {
            hex_run + 1
        } else {
            0
        };
        longest_hex = longest_hex.max(hex_run);
    }
    prefixed || random || longest_hex >= 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_key_is_removed_wherever_it_occurs() {
        let key = "my-own-key-without-any-shape";
        let message = format!("Incorrect API key provided: {key}. Key {key} was revoked");
        let scrubbed = scrub(&message, &[key]);
        assert!(!scrubbed.contains(key), "{scrubbed}");
        assert_eq!(
            scrubbed,
            "Incorrect API key provided: [redacted]. Key [redacted] was revoked"
        );
    }

    #[test]
    fn key_shaped_tokens_are_removed_without_being_known() {
        for leaked in [
            "sk-proj-abc1****************wxyz",
            "sk-ant-api03-AbCdEf0123456789",
            "AIzaSyA1b2C3d4E5f6G7h8I9j0",
            "aurra_0123456789abcdef0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef",
            "Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1",
            "Bearer shorttoken",
        ] {
            let scrubbed = scrub(&format!("rejected ({leaked}), try again"), &[]);
            let expected = match leaked.strip_prefix("Bearer ") {
                Some(_) => "rejected (Bearer [redacted]), try again",
                None => "rejected ([redacted]), try again",
            };
            assert_eq!(scrubbed, expected, "{leaked}");
        }
    }

    #[test]
    fn ordinary_words_model_names_and_ids_survive() {
        for kept in [
            "The model claude-3-5-sonnet-20241022 does not exist",
            "gpt-4o-mini-2024-07-18 is overloaded; retry in 20 s",
            "request 01a23682-a809-7021-a18d-f9cf3df2b0b6 failed: HTTP 500",
            "Please check your API key at https://platform.example/account.",
            "skip-connection-for-now sk-short",
        ] {
            assert_eq!(scrub(kept, &["abc", "   "]), kept);
        }
    }

    #[test]
    fn scrubbing_twice_changes_nothing_more() {
        let once = scrub("key sk-proj-0123456789ABCDEFabcdef leaked", &["leaked"]);
        assert_eq!(once, "key [redacted] [redacted]");
        assert_eq!(scrub(&once, &["leaked"]), once);
    }
}
