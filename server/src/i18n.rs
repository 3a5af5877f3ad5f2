//! The widget's texts: one catalog per supported language
//! (`server/i18n/<lang>.json`, flat objects of key → text, built into the
//! binary), the choice of language and the site's overrides on top.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use messenger_wire::SUPPORTED_LANGUAGES;

const SOURCES: [(&str, &str); 5] = [
    ("en", include_str!("../i18n/en.json")),
    ("de", include_str!("../i18n/de.json")),
    ("fr", include_str!("../i18n/fr.json")),
    ("es", include_str!("../i18n/es.json")),
    ("ar", include_str!("../i18n/ar.json")),
];

type Catalog = BTreeMap<String, String>;

static CATALOGS: LazyLock<HashMap<&'static str, Catalog>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(language, source)| {
            let catalog = serde_json::from_str::<Catalog>(source).unwrap_or_else(|error| {
                tracing::error!(language, %error, "a text catalog is not a flat JSON object");
                Catalog::new()
            });
            (*language, catalog)
        })
        .collect()
});

/// Every text of `language` (a supported one): the English catalog, then
/// that language's on top (so a key missing in a translation still has a
/// text), then the site's overrides for every language (`"*"`), then for
/// that language.
pub fn texts(language: &str, overrides: &BTreeMap<String, BTreeMap<String, String>>) -> Catalog {
    debug_assert!(SUPPORTED_LANGUAGES.contains(&language));
    let mut texts = CATALOGS.get("en").cloned().unwrap_or_default();
    if language != "en"
        && let Some(catalog) = CATALOGS.get(language)
    {
        texts.extend(catalog.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for scope in ["*", language] {
        if let Some(site) = overrides.get(scope) {
            texts.extend(site.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_parses_and_has_every_english_key() {
        let english = &CATALOGS["en"];
        assert!(!english.is_empty());
        for language in SUPPORTED_LANGUAGES {
            let catalog = &CATALOGS[language];
            let missing: Vec<_> = english
                .keys()
                .filter(|k| !catalog.contains_key(*k))
                .collect();
            assert!(missing.is_empty(), "{language} lacks {missing:?}");
        }
    }

    #[test]
    fn overrides_apply_all_languages_first_then_the_language() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "*".to_owned(),
            BTreeMap::from([
                ("panel.title".to_owned(), "Acme".to_owned()),
                ("launcher.open".to_owned(), "Chat".to_owned()),
            ]),
        );
        overrides.insert(
            "de".to_owned(),
            BTreeMap::from([("panel.title".to_owned(), "Acme DE".to_owned())]),
        );
        let de = texts("de", &overrides);
        assert_eq!(de["panel.title"], "Acme DE");
        assert_eq!(de["launcher.open"], "Chat");
        let fr = texts("fr", &overrides);
        assert_eq!(fr["panel.title"], "Acme");
        // Every text, in French where no override applies.
        assert_eq!(fr.len(), CATALOGS["en"].len());
        assert_eq!(fr["launcher.open"], "Chat");
        assert_eq!(fr["launcher.close"], CATALOGS["fr"]["launcher.close"]);
        assert_ne!(fr["launcher.close"], CATALOGS["en"]["launcher.close"]);
    }
}
