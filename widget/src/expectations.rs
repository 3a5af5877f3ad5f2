//! What the panel tells the customer to expect: how soon a reply usually
//! comes while the team is in, and when it is back while it is away. Pure
//! Rust except for the local date, so the wording is unit-tested natively.

/// "We usually reply in …" for a typical reply time of `minutes`.
pub fn usually_replies(minutes: i64) -> String {
    match minutes {
        ..=10 => t("expect.minutes_few"),
        11..=50 => tf(
            "expect.minutes",
            &[("minutes", &round_to(minutes, 5).to_string())],
        ),
        51..=89 => t("expect.hour"),
        90..=1_260 => tf(
            "expect.hours",
            &[("hours", &((minutes + 30) / 60).to_string())],
        ),
        1_261..=2_160 => t("expect.day"),
        _ => t("expect.days"),
    }
}

/// "We're away; we'll answer from …" with `when` already in the customer's
/// own words and time zone (see [`crate::clock::weekday_time_label`]).
pub fn away_until(when: Option<&str>) -> String {
    match when {
        Some(when) => tf("expect.away_until", &[("when", when)]),
        None => t("expect.away"),
    }
}

use crate::texts::{t, tf};

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
