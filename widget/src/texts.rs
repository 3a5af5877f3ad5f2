//! Every text the panel shows or speaks, by key (`composer.placeholder`).
//!
//! The English catalog (`server/i18n/en.json`, the same file the server
//! serves) is compiled in; the site's configuration (`config.texts`: the
//! whole table of the chosen language with the site's overrides) replaces
//! it. A key missing from the configuration falls back to English, and a
//! key missing from English shows as itself (a bug, but never a blank).
//! Placeholders are written `{name}`, see [`fill`].
//!
//! In the browser both tables stay JavaScript objects (`JSON.parse`d, looked
//! up with `Reflect.get`): a Rust map and its serde code would cost the
//! panel's download several kilobytes.

/// The compiled-in English catalog.
pub const ENGLISH: &str = include_str!("../../server/i18n/en.json");

/// The text of `key`: the site's (`site`), else English, else the key.
pub fn lookup(
    key: &str,
    site: impl Fn(&str) -> Option<String>,
    english: impl Fn(&str) -> Option<String>,
) -> String {
    site(key)
        .or_else(|| english(key))
        .unwrap_or_else(|| key.to_owned())
}

/// `template` with each `{name}` replaced by its value; an unknown
/// placeholder stays as written.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}').and_then(|end| {
            let name = &after[..end];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (end, *v))
        }) {
            Some((end, value)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(target_arch = "wasm32")]
mod table {
    use std::cell::RefCell;
    use wasm_bindgen::JsValue;

    thread_local! {
        static ENGLISH: JsValue = js_sys::JSON::parse(super::ENGLISH).unwrap_or(JsValue::NULL);
        static SITE: RefCell<JsValue> = const { RefCell::new(JsValue::NULL) };
    }

    fn get(table: &JsValue, key: &str) -> Option<String> {
        if !table.is_object() {
            return None;
        }
        js_sys::Reflect::get(table, &key.into()).ok()?.as_string()
    }

    pub fn set(texts: JsValue) {
        SITE.with(|site| *site.borrow_mut() = texts);
    }

    pub fn t(key: &str) -> String {
        super::lookup(
            key,
            |key| SITE.with(|site| get(&site.borrow(), key)),
            |key| ENGLISH.with(|english| get(english, key)),
        )
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod table {
    /// Natively (unit tests): English only.
    pub fn t(key: &str) -> String {
        let english: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(super::ENGLISH).unwrap_or_default();
        super::lookup(
            key,
            |_| None,
            |key| english.get(key)?.as_str().map(str::to_owned),
        )
    }
}

/// Sets the site's texts (an object, key → text, from `mw:init`), before
/// the panel is drawn. The panel's static texts are read once, as it is
/// built (a change of language reloads it).
#[cfg(target_arch = "wasm32")]
pub use table::set;

/// The text of `key` in the panel's language.
pub use table::t;

/// [`t`] with placeholders filled, see [`fill`].
pub fn tf(key: &str, values: &[(&str, &str)]) -> String {
    fill(&t(key), values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const CATALOGS: [(&str, &str); 5] = [
        ("en", include_str!("../../server/i18n/en.json")),
        ("de", include_str!("../../server/i18n/de.json")),
        ("fr", include_str!("../../server/i18n/fr.json")),
        ("es", include_str!("../../server/i18n/es.json")),
        ("ar", include_str!("../../server/i18n/ar.json")),
    ];

    fn placeholders(text: &str) -> Vec<String> {
        let mut names: Vec<String> = text
            .split('{')
            .skip(1)
            .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn placeholders_are_filled_by_name() {
        assert_eq!(
            fill("{count} unread messages", &[("count", "3")]),
            "3 unread messages"
        );
        assert_eq!(
            fill("{a} and {b}, {a}", &[("a", "x"), ("b", "y")]),
            "x and y, x"
        );
        assert_eq!(
            fill("{unknown} stays", &[("count", "3")]),
            "{unknown} stays"
        );
        assert_eq!(fill("an { alone", &[]), "an { alone");
        assert_eq!(fill("ümlaut {n}€", &[("n", "2")]), "ümlaut 2€");
    }

    #[test]
    fn a_site_text_replaces_the_default_and_a_missing_one_falls_back_to_english() {
        let site = BTreeMap::from([("composer.placeholder", "Frag uns")]);
        let site = |key: &str| site.get(key).map(|t| t.to_string());
        let english = |key: &str| (key == "composer.send").then(|| "Send".to_owned());
        assert_eq!(lookup("composer.placeholder", site, english), "Frag uns");
        assert_eq!(lookup("composer.send", site, english), "Send");
        assert_eq!(lookup("no.such.key", site, english), "no.such.key");
        assert_eq!(t("launcher.open"), "Open messages");
        assert_eq!(
            tf("launcher.unread", &[("count", "4")]),
            "4 unread messages"
        );
    }

    #[test]
    fn every_catalog_has_every_english_key_with_the_same_placeholders() {
        let english: BTreeMap<String, String> = serde_json::from_str(CATALOGS[0].1).unwrap();
        for key in [
            "launcher.open",
            "launcher.close",
            "launcher.unread_one",
            "launcher.unread",
        ] {
            assert!(english.contains_key(key), "{key} missing");
        }
        for (lang, text) in CATALOGS {
            let table: BTreeMap<String, String> =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{lang}.json: {e}"));
            assert_eq!(table.len(), english.len(), "{lang}.json has other keys");
            for (key, en) in &english {
                let translated = table
                    .get(key)
                    .unwrap_or_else(|| panic!("{lang}.json lacks {key}"));
                assert!(!translated.trim().is_empty(), "{lang}.json: {key} is empty");
                assert_eq!(
                    placeholders(translated),
                    placeholders(en),
                    "{lang}.json: {key} has other placeholders"
                );
            }
        }
    }
}
