//! What the panel tells the customer to expect: how soon a reply usually
//! comes while the team is in, and when it is back while it is away. Pure
//! Rust except for the local date, so the wording is unit-tested natively.

/// "We usually reply in …" for a typical reply time of `minutes`.
pub fn usually_replies(minutes: i64) -> String {
    let within = match minutes {
        ..=10 => "in a few minutes".to_owned(),
        11..=50 => format!("in about {} minutes", round_to(minutes, 5)),
        51..=89 => "in about an hour".to_owned(),
        90..=1_260 => format!("in about {} hours", (minutes + 30) / 60),
        1_261..=2_160 => "within a day".to_owned(),
        _ => "in a few days".to_owned(),
    };
    format!("We usually reply {within}")
}

/// "We're away; we'll answer from …" with `when` already in the customer's
/// own words and time zone (see [`crate::clock::weekday_time_label`]).
pub fn away_until(when: Option<&str>) -> String {
    match when {
        Some(when) => format!("We're away; we'll answer from {when}"),
        None => "We're away right now; we'll answer as soon as we can".to_owned(),
    }
}

fn round_to(value: i64, step: i64) -> i64 {
    ((value + step / 2) / step) * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_times_read_naturally() {
        assert_eq!(usually_replies(3), "We usually reply in a few minutes");
        assert_eq!(usually_replies(22), "We usually reply in about 20 minutes");
        assert_eq!(usually_replies(60), "We usually reply in about an hour");
        assert_eq!(usually_replies(120), "We usually reply in about 2 hours");
        assert_eq!(usually_replies(150), "We usually reply in about 3 hours");
        assert_eq!(usually_replies(24 * 60), "We usually reply within a day");
        assert_eq!(
            usually_replies(4 * 24 * 60),
            "We usually reply in a few days"
        );
    }

    #[test]
    fn away_says_when_we_are_back_if_we_know() {
        assert_eq!(
            away_until(Some("Monday 09:00")),
            "We're away; we'll answer from Monday 09:00"
        );
        assert!(away_until(None).starts_with("We're away"));
    }
}
