//! The site's configuration as the panel uses it (the server's
//! `WidgetConfig`, handed over by the loader in `mw:init` and `mw:config`):
//! language and direction of the page, the texts, the brand colour and the
//! greeting. Read leniently: a field missing or malformed falls back to the
//! panel's defaults rather than failing the panel.

use wasm_bindgen::JsValue;

/// Read field by field from the JavaScript object (no serde: its code would
/// cost the panel's download more than this).
#[derive(Clone, Default, Debug)]
pub struct Config {
    pub color: Option<String>,
    pub greeting: Option<String>,
    pub language: Option<String>,
    pub dir: Option<String>,
    /// key → text, a JavaScript object (see [`crate::texts`]).
    pub texts: JsValue,
    pub identity_required: bool,
}

impl Config {
    /// Reads the `WidgetConfig` object the loader posted.
    pub fn from_js(value: &JsValue) -> Self {
        let field = |name: &str| js_sys::Reflect::get(value, &name.into()).unwrap_or_default();
        let text = |name: &str| field(name).as_string();
        Config {
            color: text("color"),
            greeting: text("greeting"),
            language: text("language"),
            dir: text("dir"),
            texts: field("texts"),
            identity_required: field("identity_required").as_bool().unwrap_or(false),
        }
    }

    /// The brand colour and the text colour drawn on it, if the colour is
    /// one (`#rgb` or `#rrggbb`). The text colour is computed here too, with
    /// the server's own rule, so a hand-edited config cannot make text
    /// unreadable.
    pub fn brand(&self) -> Option<(String, &'static str)> {
        let color = self.color.as_deref()?.trim();
        messenger_wire::parse_hex_color(color)?;
        Some((color.to_owned(), messenger_wire::contrast_text_color(color)))
    }

    /// `rtl` or `ltr`; Arabic is right to left whatever `dir` says.
    pub fn direction(&self) -> &'static str {
        match (self.language.as_deref(), self.dir.as_deref()) {
            (Some("ar"), _) | (_, Some("rtl")) => "rtl",
            _ => "ltr",
        }
    }

    /// The page's language (`en` when none is given).
    pub fn lang(&self) -> String {
        self.language
            .as_deref()
            .filter(|l| {
                !l.is_empty()
                    && l.len() <= 35
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
            .unwrap_or("en")
            .to_owned()
    }
}

/// The `lang` of the page (`en` before any configuration).
pub fn current_lang() -> String {
    leptos::prelude::document()
        .document_element()
        .and_then(|root| root.get_attribute("lang"))
        .unwrap_or_else(|| "en".to_owned())
}

/// Applies `config` to the page: `lang` and `dir` of `<html>`, the texts,
/// the dates' locale, and the brand colours as CSS custom properties
/// (through the CSSOM, which the frame's `style-src 'self'` allows).
pub fn apply(config: &Config) {
    let lang = config.lang();
    if let Some(root) = leptos::prelude::document().document_element() {
        _ = root.set_attribute("lang", &lang);
        _ = root.set_attribute("dir", config.direction());
        if let Some((color, text)) = config.brand() {
            use wasm_bindgen::JsCast;
            if let Ok(root) = root.dyn_into::<web_sys::HtmlElement>() {
                let style = root.style();
                _ = style.set_property("--accent", &color);
                _ = style.set_property("--accent-strong", &color);
                _ = style.set_property("--on-accent", text);
            }
        }
    }
    crate::clock::set_language(&lang);
    #[cfg(target_arch = "wasm32")]
    crate::texts::set(config.texts.clone());
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn arabic_is_right_to_left_and_the_rest_left_to_right() {
        let config = |language: &str, dir: &str| Config {
            language: Some(language.to_owned()),
            dir: Some(dir.to_owned()),
            ..Config::default()
        };
        assert_eq!(config("ar", "ltr").direction(), "rtl");
        assert_eq!(config("de", "ltr").direction(), "ltr");
        assert_eq!(Config::default().direction(), "ltr");
        assert_eq!(Config::default().lang(), "en");
        assert_eq!(config("<b>", "ltr").lang(), "en");
    }

    #[test]
    fn a_light_brand_colour_gets_dark_text_and_nonsense_no_colour() {
        let config = |color: &str| Config {
            color: Some(color.to_owned()),
            ..Config::default()
        };
        assert_eq!(
            config("#fde047").brand(),
            Some(("#fde047".to_owned(), "#111827"))
        );
        assert_eq!(
            config("#2563eb").brand(),
            Some(("#2563eb".to_owned(), "#ffffff"))
        );
        assert_eq!(config("red; display:none").brand(), None);
    }
}
