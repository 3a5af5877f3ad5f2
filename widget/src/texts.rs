//! Every text the panel shows or speaks, by key (`composer.placeholder`).
//!
//! The English catalog (`server/i18n/en.json`, the same file the server
//! serves) is compiled in; the site's configuration (`config.texts`: the
//! whole table of the chosen language with the site's overrides) replaces
//! it. A key missing from the configuration falls back to English, and a
//! key missing from English shows as itself (a bug, but never a blank).
//! Placeholders are written `{name}`, see [`fill`].

use std::collections::HashMap;
use std::sync::OnceLock;

use leptos::prelude::*;

/// The compiled-in English catalog.
const ENGLISH: &str = include_str!("../../server/i18n/en.json");

fn english() -> &'static HashMap<String, String> {
    static TABLE: OnceLock<HashMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| serde_json::from_str(ENGLISH).unwrap_or_default())
}

/// A language's texts as the server sent them (possibly partial).
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Texts {
    table: HashMap<String, String>,
}

impl Texts {
    pub fn new(table: HashMap<String, String>) -> Self {
        Texts { table }
    }

    /// The text of `key`: this table's, else English, else the key itself.
    pub fn get(&self, key: &str) -> String {
        self.table
            .get(key)
            .or_else(|| english().get(key))
            .cloned()
            .unwrap_or_else(|| key.to_owned())
    }
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

thread_local! {
    static CURRENT: RwSignal<Texts> = RwSignal::new(Texts::default());
}

/// Replaces the panel's texts (from `mw:init` or `mw:config`); every text
/// shown through [`t`] in a reactive closure follows.
pub fn set(texts: Texts) {
    CURRENT.with(|current| current.set(texts));
}

/// The text of `key` in the panel's language (tracked: a view that reads
/// it changes with the language).
pub fn t(key: &str) -> String {
    CURRENT.with(|current| current.with(|texts| texts.get(key)))
}

/// [`t`] with placeholders filled, see [`fill`].
pub fn tf(key: &str, values: &[(&str, &str)]) -> String {
    fill(&t(key), values)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let texts = Texts::new(HashMap::from([(
            "composer.placeholder".to_owned(),
            "Frag uns".to_owned(),
        )]));
        assert_eq!(texts.get("composer.placeholder"), "Frag uns");
        assert_eq!(texts.get("composer.send"), "Send");
        assert_eq!(texts.get("no.such.key"), "no.such.key");
        assert_eq!(t("launcher.open"), "Open messages");
        assert_eq!(
            tf("launcher.unread", &[("count", "4")]),
            "4 unread messages"
        );
    }

    #[test]
    fn every_catalog_has_every_english_key_with_the_same_placeholders() {
        let english: HashMap<String, String> = serde_json::from_str(CATALOGS[0].1).unwrap();
        for key in [
            "launcher.open",
            "launcher.close",
            "launcher.unread_one",
            "launcher.unread",
        ] {
            assert!(english.contains_key(key), "{key} missing");
        }
        for (lang, text) in CATALOGS {
            let table: HashMap<String, String> =
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
