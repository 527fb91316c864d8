//! The duplicate-suppression fingerprint (spec §9.3): what makes two writes of one tenant the
//! same fact. Pure; the engine decides what is a duplicate (a live row with the fingerprint),
//! each backend keys the fingerprint under its tenant.

/// Longest `decision` prefix used by duplicate suppression, in characters (spec §9.3).
pub(crate) const DEDUP_PREFIX_CHARS: usize = 100;

/// The fingerprint of a row: kind (1) ++ length-prefixed fields. Slack rows with an external
/// id are keyed by it alone; every other row by source, channel and the first 100
/// characters of the trimmed decision. Self-delimiting, so an id may follow it in a key.
pub(crate) fn fingerprint(
    source: &str,
    channel: &str,
    decision: &str,
    external_id: Option<&str>,
) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + source.len() + channel.len() + decision.len().min(400));
    match external_id {
        Some(ext) if source == "slack" => {
            k.push(1);
            push_str(&mut k, ext);
        }
        _ => {
            k.push(0);
            push_str(&mut k, source);
            push_str(&mut k, channel);
            let trimmed = decision.trim();
            let end = trimmed
                .char_indices()
                .nth(DEDUP_PREFIX_CHARS)
                .map_or(trimmed.len(), |(i, _)| i);
            push_str(&mut k, &trimmed[..end]);
        }
    }
    k
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_hundred_characters_of_the_trimmed_decision_count() {
        let long_a = format!("  {}{}", "é".repeat(100), "tail one");
        let long_b = format!("{}{}  ", "é".repeat(100), "tail two");
        assert_eq!(
            fingerprint("agent", "agent", &long_a, None),
            fingerprint("agent", "agent", &long_b, None)
        );
        assert_ne!(
            fingerprint("agent", "agent", "x", None),
            fingerprint("agent", "other", "x", None)
        );
        assert_eq!(
            fingerprint("slack", "c", "one", Some("123.4")),
            fingerprint("slack", "d", "two", Some("123.4"))
        );
        assert_ne!(
            fingerprint("email", "c", "one", Some("123.4")),
            fingerprint("email", "c", "two", Some("123.4"))
        );
    }
}
