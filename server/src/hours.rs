//! Business hours: whether the site is open at an instant and when it next
//! opens, in the site's own time zone (DST included), with holidays.
//!
//! Hours are `[start, end)` ranges of local minutes (0 to 1440) per weekday;
//! a range never spans midnight (write `[1320, 1440]` on one day and
//! `[0, 120]` on the next: they join). No range on any day means always
//! open. A local time skipped by a DST change counts from the first instant
//! after the gap; a repeated one from its first occurrence.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use messenger_wire::{SiteHours, WeekHours};

/// Minutes in a day: the largest `end` of a range.
pub const DAY_MINUTES: u32 = 1440;
/// Most ranges on one weekday.
pub const MAX_RANGES_PER_DAY: usize = 24;
/// Most holidays.
pub const MAX_HOLIDAYS: usize = 1000;
/// Longest greeting or away message, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;
/// Largest expected reply time: 30 days.
pub const MAX_EXPECTED_REPLY_MINUTES: u32 = 30 * 24 * 60;

/// Days searched for the next opening; past that (only holidays), never.
const SEARCH_DAYS: i64 = MAX_HOLIDAYS as i64 + 8;

/// Validated hours, ready to answer.
#[derive(Debug, Clone)]
pub struct Hours {
    zone: Tz,
    /// Monday first; each day's ranges sorted, not overlapping.
    week: [Vec<(u32, u32)>; 7],
    holidays: BTreeSet<NaiveDate>,
}

impl Default for Hours {
    /// Always open.
    fn default() -> Self {
        Hours {
            zone: Tz::UTC,
            week: Default::default(),
            holidays: BTreeSet::new(),
        }
    }
}

impl Hours {
    /// Validates settings; the error says what is wrong.
    pub fn parse(settings: &SiteHours) -> Result<Hours, String> {
        let zone: Tz = settings
            .time_zone
            .parse()
            .map_err(|_| format!("unknown time zone {:?}", settings.time_zone))?;
        let WeekHours {
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
        } = &settings.hours;
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for (i, (name, ranges)) in [
            ("mon", mon),
            ("tue", tue),
            ("wed", wed),
            ("thu", thu),
            ("fri", fri),
            ("sat", sat),
            ("sun", sun),
        ]
        .into_iter()
        .enumerate()
        {
            if ranges.len() > MAX_RANGES_PER_DAY {
                return Err(format!("{name} has more than {MAX_RANGES_PER_DAY} ranges"));
            }
            let mut day: Vec<(u32, u32)> = ranges.iter().map(|[s, e]| (*s, *e)).collect();
            for &(start, end) in &day {
                if end > DAY_MINUTES || start >= end {
                    return Err(format!(
                        "{name}: [{start}, {end}] is not a range of minutes with 0 <= start < end <= {DAY_MINUTES}"
                    ));
                }
            }
            day.sort_unstable();
            if let Some(w) = day.windows(2).find(|w| w[1].0 < w[0].1) {
                return Err(format!(
                    "{name}: [{}, {}] overlaps [{}, {}]",
                    w[0].0, w[0].1, w[1].0, w[1].1
                ));
            }
            week[i] = day;
        }
        if settings.holidays.len() > MAX_HOLIDAYS {
            return Err(format!("more than {MAX_HOLIDAYS} holidays"));
        }
        let mut holidays = BTreeSet::new();
        for date in &settings.holidays {
            let parsed = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()
                .filter(|d| d.format("%Y-%m-%d").to_string() == *date)
                .ok_or_else(|| format!("holiday {date:?} is not a date YYYY-MM-DD"))?;
            holidays.insert(parsed);
        }
        if settings
            .expected_reply_minutes
            .is_some_and(|m| m == 0 || m > MAX_EXPECTED_REPLY_MINUTES)
        {
            return Err(format!(
                "expected_reply_minutes must be 1 to {MAX_EXPECTED_REPLY_MINUTES}"
            ));
        }
        for (name, text) in [
            ("greeting", &settings.greeting),
            ("away_message", &settings.away_message),
        ] {
            if text
                .as_deref()
                .is_some_and(|t| t.trim().is_empty() || t.chars().count() > MAX_TEXT_CHARS)
            {
                return Err(format!(
                    "{name} must be 1 to {MAX_TEXT_CHARS} characters, or absent"
                ));
            }
        }
        Ok(Hours {
            zone,
            week,
            holidays,
        })
    }

    /// No hours configured: always open.
    pub fn always_open(&self) -> bool {
        self.week.iter().all(Vec::is_empty)
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Whether the site is open at `at` (Unix ms).
    pub fn is_open(&self, at: i64) -> bool {
        if self.always_open() {
            return true;
        }
        let Some(utc) = Utc.timestamp_millis_opt(at).single() else {
            return false;
        };
        let local = utc.with_timezone(&self.zone).naive_local();
        let date = local.date();
        if self.holidays.contains(&date) {
            return false;
        }
        let minute = local.time().signed_duration_since(chrono::NaiveTime::MIN);
        let minute = minute.num_minutes() as u32;
        self.ranges(date)
            .iter()
            .any(|&(start, end)| start <= minute && minute < end)
    }

    /// The first instant at or after `at` when the site is open (Unix ms);
    /// `None` if it never opens.
    pub fn next_open(&self, at: i64) -> Option<i64> {
        if self.is_open(at) {
            return Some(at);
        }
        let utc = Utc.timestamp_millis_opt(at).single()?;
        let today = utc.with_timezone(&self.zone).date_naive();
        // From the day before, in case a DST change moved a range across
        // local midnight's instant.
        for offset in -1..SEARCH_DAYS {
            let date = today + Duration::days(offset);
            if self.holidays.contains(&date) {
                continue;
            }
            for &(start, end) in self.ranges(date) {
                let start_at = self.instant(date, start)?;
                let end_at = self.instant(date, end)?;
                if start_at > at && start_at < end_at {
                    return Some(start_at);
                }
            }
        }
        None
    }

    fn ranges(&self, date: NaiveDate) -> &[(u32, u32)] {
        let index = match date.weekday() {
            Weekday::Mon => 0,
            Weekday::Tue => 1,
            Weekday::Wed => 2,
            Weekday::Thu => 3,
            Weekday::Fri => 4,
            Weekday::Sat => 5,
            Weekday::Sun => 6,
        };
        &self.week[index]
    }

    /// The instant (Unix ms) of local `minute` on `date`: in a DST gap, the
    /// first instant after it; when repeated, the first occurrence.
    fn instant(&self, date: NaiveDate, minute: u32) -> Option<i64> {
        let local: NaiveDateTime =
            date.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(minute));
        for skip in 0..=24 * 60 {
            match self
                .zone
                .from_local_datetime(&(local + Duration::minutes(skip)))
            {
                LocalResult::Single(t) => return Some(t.timestamp_millis()),
                LocalResult::Ambiguous(first, _) => return Some(first.timestamp_millis()),
                LocalResult::None => continue,
            }
        }
        None
    }

    /// `at` as the site's local weekday and time, such as `Monday 09:00`.
    pub fn local_label(&self, at: i64) -> String {
        Utc.timestamp_millis_opt(at)
            .single()
            .map(|t| t.with_timezone(&self.zone).format("%A %H:%M").to_string())
            .unwrap_or_default()
    }
}

/// The text of the automatic away reply: the configured one (where
/// `{time}` stands for when we open again), or the default.
pub fn away_text(settings_message: Option<&str>, hours: &Hours, next_open: Option<i64>) -> String {
    let time = match next_open {
        Some(at) => format!("{} ({})", hours.local_label(at), hours.zone().name()),
        None => "as soon as we can".to_owned(),
    };
    match settings_message {
        Some(message) => message.replace("{time}", &time),
        None => match next_open {
            Some(_) => format!(
                "Thanks for your message! We're away right now and will answer from {time}."
            ),
            None => {
                "Thanks for your message! We're away right now and will answer as soon as we can."
                    .to_owned()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn settings(zone: &str, weekdays: &[[u32; 2]]) -> SiteHours {
        let day = weekdays.to_vec();
        SiteHours {
            time_zone: zone.to_owned(),
            hours: WeekHours {
                mon: day.clone(),
                tue: day.clone(),
                wed: day.clone(),
                thu: day.clone(),
                fri: day,
                sat: vec![],
                sun: vec![],
            },
            ..SiteHours::default()
        }
    }

    #[test]
    fn no_hours_is_always_open() {
        let hours = Hours::parse(&SiteHours::default()).unwrap();
        assert!(hours.always_open());
        assert!(hours.is_open(ms("2026-03-08T03:00:00Z")));
        assert_eq!(hours.next_open(5), Some(5));
    }

    #[test]
    fn open_and_next_open_in_a_zone() {
        // Europe/Paris, weekdays 9:00-17:00; 2026-01-05 is a Monday (UTC+1).
        let hours = Hours::parse(&settings("Europe/Paris", &[[540, 1020]])).unwrap();
        assert!(hours.is_open(ms("2026-01-05T08:00:00Z")));
        assert!(!hours.is_open(ms("2026-01-05T07:59:00Z")));
        assert!(!hours.is_open(ms("2026-01-05T16:00:00Z")));
        assert_eq!(
            hours.next_open(ms("2026-01-05T07:00:00Z")),
            Some(ms("2026-01-05T08:00:00Z"))
        );
        // Friday evening → Monday 9:00.
        assert_eq!(
            hours.next_open(ms("2026-01-09T18:00:00Z")),
            Some(ms("2026-01-12T08:00:00Z"))
        );
        assert_eq!(
            hours.local_label(ms("2026-01-12T08:00:00Z")),
            "Monday 09:00"
        );
    }

    #[test]
    fn next_open_follows_dst_changes() {
        // New York moves to EDT (UTC-4) on Sunday 2026-03-08: Friday 6 March
        // evening (EST, UTC-5) → Monday 9 March 9:00 EDT = 13:00 UTC.
        let hours = Hours::parse(&settings("America/New_York", &[[540, 1020]])).unwrap();
        assert_eq!(
            hours.next_open(ms("2026-03-06T23:00:00Z")),
            Some(ms("2026-03-09T13:00:00Z"))
        );
        // Before the change, 9:00 EST is 14:00 UTC.
        assert_eq!(
            hours.next_open(ms("2026-03-05T23:00:00Z")),
            Some(ms("2026-03-06T14:00:00Z"))
        );
        // Back to EST on Sunday 2026-11-01.
        assert_eq!(
            hours.next_open(ms("2026-10-30T23:00:00Z")),
            Some(ms("2026-11-02T14:00:00Z"))
        );
    }

    #[test]
    fn a_range_starting_in_a_dst_gap_opens_after_the_gap() {
        // Sunday 2026-03-29, Paris: 2:00 jumps to 3:00 (01:00 UTC).
        let mut s = SiteHours {
            time_zone: "Europe/Paris".to_owned(),
            ..SiteHours::default()
        };
        s.hours.sun = vec![[150, 240]];
        let hours = Hours::parse(&s).unwrap();
        assert_eq!(
            hours.next_open(ms("2026-03-28T12:00:00Z")),
            Some(ms("2026-03-29T01:00:00Z"))
        );
        assert!(hours.is_open(ms("2026-03-29T01:30:00Z")));
        assert!(!hours.is_open(ms("2026-03-29T02:00:00Z")));
    }

    #[test]
    fn holidays_are_closed() {
        let mut s = settings("Europe/Paris", &[[540, 1020]]);
        s.holidays = vec!["2026-01-05".to_owned(), "2026-01-06".to_owned()];
        let hours = Hours::parse(&s).unwrap();
        assert!(!hours.is_open(ms("2026-01-05T10:00:00Z")));
        assert_eq!(
            hours.next_open(ms("2026-01-05T10:00:00Z")),
            Some(ms("2026-01-07T08:00:00Z"))
        );
    }

    #[test]
    fn ranges_join_across_midnight() {
        let mut s = SiteHours::default();
        s.hours.mon = vec![[1320, 1440]];
        s.hours.tue = vec![[0, 120]];
        let hours = Hours::parse(&s).unwrap();
        // Monday 2026-01-05, UTC.
        assert!(hours.is_open(ms("2026-01-05T23:59:00Z")));
        assert!(hours.is_open(ms("2026-01-06T00:00:00Z")));
        assert!(hours.is_open(ms("2026-01-06T01:59:00Z")));
        assert!(!hours.is_open(ms("2026-01-06T02:00:00Z")));
        assert_eq!(
            hours.next_open(ms("2026-01-06T02:00:00Z")),
            Some(ms("2026-01-12T22:00:00Z"))
        );
    }

    #[test]
    fn only_holidays_ahead_never_opens() {
        let mut s = SiteHours::default();
        s.hours.mon = vec![[540, 1020]];
        // Every Monday for the search horizon and more.
        let first = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        s.holidays = (0..MAX_HOLIDAYS as i64)
            .map(|w| (first + Duration::weeks(w)).format("%Y-%m-%d").to_string())
            .collect();
        let hours = Hours::parse(&s).unwrap();
        assert!(!hours.always_open());
        assert_eq!(hours.next_open(ms("2026-01-04T00:00:00Z")), None);
    }

    #[test]
    fn validation_explains_what_is_wrong() {
        let bad_zone = settings("Mars/Olympus", &[[540, 1020]]);
        assert!(Hours::parse(&bad_zone).unwrap_err().contains("time zone"));
        for ranges in [&[[600, 540]][..], &[[0, 1441]], &[[540, 540]]] {
            let error = Hours::parse(&settings("UTC", ranges)).unwrap_err();
            assert!(error.contains("range"), "{error}");
        }
        let overlap = settings("UTC", &[[540, 720], [700, 1020]]);
        assert!(Hours::parse(&overlap).unwrap_err().contains("overlaps"));
        let touching = settings("UTC", &[[540, 720], [720, 1020]]);
        assert!(Hours::parse(&touching).is_ok());
        for date in ["2026-02-30", "26-01-01", "2026-1-5", "tomorrow"] {
            let s = SiteHours {
                holidays: vec![date.to_owned()],
                ..SiteHours::default()
            };
            assert!(Hours::parse(&s).unwrap_err().contains("holiday"), "{date}");
        }
    }

    #[test]
    fn the_away_text_names_the_opening_in_the_site_zone() {
        let hours = Hours::parse(&settings("Europe/Paris", &[[540, 1020]])).unwrap();
        let at = Some(ms("2026-01-12T08:00:00Z"));
        assert_eq!(
            away_text(None, &hours, at),
            "Thanks for your message! We're away right now and will answer from Monday 09:00 (Europe/Paris)."
        );
        assert_eq!(
            away_text(Some("Back {time}!"), &hours, at),
            "Back Monday 09:00 (Europe/Paris)!"
        );
    }
}
