//! Local time, through the browser's `Date` (no time-zone data in the wasm).

use js_sys::Date;
use wasm_bindgen::JsValue;

/// Now, in Unix ms.
pub fn now_ms() -> i64 {
    Date::now() as i64
}

fn local(ms: i64) -> Date {
    Date::new(&JsValue::from_f64(ms as f64))
}

/// `HH:MM`, 24-hour, local time.
pub fn time_label(ms: i64) -> String {
    let date = local(ms);
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
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
        return "Today".to_owned();
    }
    if key == day_key_of(&yesterday) {
        return "Yesterday".to_owned();
    }
    let options = if date.get_full_year() == today.get_full_year() {
        r#"{"weekday":"long","month":"long","day":"numeric"}"#
    } else {
        r#"{"year":"numeric","month":"long","day":"numeric"}"#
    };
    let options = js_sys::JSON::parse(options).unwrap_or(JsValue::UNDEFINED);
    let language = language();
    date.to_locale_date_string(&language, &options).into()
}

/// The weekday and time of `ms` in the customer's own language and time
/// zone, "Monday 09:00"; just the time when it is today.
pub fn weekday_time_label(ms: i64) -> String {
    let date = local(ms);
    let time = time_label(ms);
    if day_key_of(&date) == day_key_of(&Date::new_0()) {
        return time;
    }
    let options = js_sys::JSON::parse(r#"{"weekday":"long"}"#).unwrap_or(JsValue::UNDEFINED);
    let language = language();
    let weekday: String = date.to_locale_date_string(&language, &options).into();
    format!("{weekday} {time}")
}

/// The reader's language, for the browser's date formatting.
fn language() -> String {
    web_sys::window()
        .and_then(|w| w.navigator().language())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "en".to_owned())
}
