//! Local time, through the browser's `Date` (no time-zone data in the wasm).

use js_sys::{Date, Function};
use wasm_bindgen::{JsCast, JsValue};

/// Now, in Unix ms.
pub fn now_ms() -> i64 {
    Date::now() as i64
}

fn local(ms: i64) -> Date {
    Date::new(&JsValue::from_f64(ms as f64))
}

/// Hours and minutes, 24-hour, local time, in the panel's language (its
/// digits: Arabic shows Arabic-Indic ones).
pub fn time_label(ms: i64) -> String {
    format(Style::Time, &local(ms))
}

/// The date formats the panel writes. Each is an `Intl.DateTimeFormat` made
/// once per language and kept: making one is costly (a fresh browser spends
/// about a millisecond on each), and a history of 50 messages would
/// otherwise make one per message, while the customer waits for the panel.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Time,
    DayThisYear,
    DayOtherYear,
    Weekday,
}

impl Style {
    fn options(self) -> &'static str {
        match self {
            Style::Time => r#"{"hour":"2-digit","minute":"2-digit","hourCycle":"h23"}"#,
            Style::DayThisYear => r#"{"weekday":"long","month":"long","day":"numeric"}"#,
            Style::DayOtherYear => r#"{"year":"numeric","month":"long","day":"numeric"}"#,
            Style::Weekday => r#"{"weekday":"long"}"#,
        }
    }
}

thread_local! {
    static FORMATS: std::cell::RefCell<Vec<(Style, Function)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `date` written in `style`, in the reader's locale.
fn format(style: Style, date: &Date) -> String {
    let cached = FORMATS.with(|formats| {
        formats
            .borrow()
            .iter()
            .find(|(s, _)| *s == style)
            .map(|(_, f)| f.clone())
    });
    let format = cached.unwrap_or_else(|| {
        let options = js_sys::JSON::parse(style.options()).unwrap_or(JsValue::UNDEFINED);
        let locales = js_sys::Array::of1(&JsValue::from_str(&language()));
        let format =
            js_sys::Intl::DateTimeFormat::new(&locales, &options.unchecked_into()).format();
        FORMATS.with(|formats| formats.borrow_mut().push((style, format.clone())));
        format
    });
    format
        .call1(&JsValue::UNDEFINED, date)
        .ok()
        .and_then(|text| text.as_string())
        .unwrap_or_default()
}

/// Identifies the local calendar day of `ms` (distinct per day, ordered).
pub fn day_key(ms: i64) -> u32 {
    let date = local(ms);
    day_key_of(&date)
}

fn day_key_of(date: &Date) -> u32 {
    date.get_full_year() * 10_000 + date.get_month() * 100 + date.get_date()
}

/// "Today", "Yesterday", or the date in the reader's language.
pub fn day_label(ms: i64) -> String {
    let date = local(ms);
    let today = Date::new_0();
    let yesterday = Date::new_with_year_month_day(
        today.get_full_year(),
        today.get_month() as i32,
        today.get_date() as i32 - 1,
    );
    let key = day_key_of(&date);
    if key == day_key_of(&today) {
        return crate::texts::t("day.today");
    }
    if key == day_key_of(&yesterday) {
        return crate::texts::t("day.yesterday");
    }
    let style = if date.get_full_year() == today.get_full_year() {
        Style::DayThisYear
    } else {
        Style::DayOtherYear
    };
    format(style, &date)
}

/// The weekday and time of `ms` in the customer's own language and time
/// zone, "Monday 09:00"; just the time when it is today.
pub fn weekday_time_label(ms: i64) -> String {
    let date = local(ms);
    let time = time_label(ms);
    if day_key_of(&date) == day_key_of(&Date::new_0()) {
        return time;
    }
    let weekday = format(Style::Weekday, &date);
    format!("{weekday} {time}")
}

thread_local! {
    static LOCALE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Dates and times follow the panel's language from now on.
pub fn set_language(language: &str) {
    let browser = web_sys::window().and_then(|w| w.navigator().language());
    let locale = locale_for(language, browser.as_deref());
    LOCALE.with(|l| *l.borrow_mut() = Some(locale));
    FORMATS.with(|formats| formats.borrow_mut().clear());
}

/// The locale dates are written in: the browser's own when it speaks the
/// panel's language (`de-CH` keeps Swiss formats), else the language.
pub fn locale_for(language: &str, browser: Option<&str>) -> String {
    match browser {
        Some(tag)
            if !language.is_empty()
                && tag
                    .split(['-', '_'])
                    .next()
                    .is_some_and(|primary| primary.eq_ignore_ascii_case(language)) =>
        {
            tag.to_owned()
        }
        _ if !language.is_empty() => language.to_owned(),
        _ => browser.filter(|b| !b.is_empty()).unwrap_or("en").to_owned(),
    }
}

/// The reader's locale, for the browser's date formatting.
fn language() -> String {
    LOCALE.with(|l| l.borrow().clone()).unwrap_or_else(|| {
        locale_for(
            "",
            web_sys::window()
                .and_then(|w| w.navigator().language())
                .as_deref(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::locale_for;

    #[test]
    fn dates_follow_the_browser_only_when_it_speaks_the_panel_language() {
        assert_eq!(locale_for("de", Some("de-CH")), "de-CH");
        assert_eq!(locale_for("en", Some("en-GB")), "en-GB");
        // A Japanese browser on a site whose default is German: German dates.
        assert_eq!(locale_for("de", Some("ja-JP")), "de");
        assert_eq!(locale_for("ar", None), "ar");
        assert_eq!(locale_for("", Some("fr-FR")), "fr-FR");
        assert_eq!(locale_for("", None), "en");
    }
}
