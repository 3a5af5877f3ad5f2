//! Sites: one server hosts many sites, each with a public key, the origins
//! allowed to embed it and its look. These are the inbox's site API types,
//! the widget's public configuration and the checks both sides share.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ErrorCode;

/// Languages the widget speaks (catalogs `server/i18n/<lang>.json`).
pub const SUPPORTED_LANGUAGES: &[&str] = &["en", "de", "fr", "es", "ar"];

/// The public key of the site migrated from the one-site era.
pub const DEFAULT_SITE_KEY: &str = "default";

/// The id of the site migrated from the one-site era.
pub const DEFAULT_SITE_ID: &str = "default";

/// Prefix of the public key of every site created since.
pub const SITE_KEY_PREFIX: &str = "mws_";

/// Longest site name, in characters.
pub const MAX_SITE_NAME_CHARS: usize = 100;

/// Most allowed origins one site may list.
pub const MAX_ALLOWED_ORIGINS: usize = 100;

/// Longest allowed origin, in bytes.
pub const MAX_ORIGIN_LEN: usize = 255;

/// Largest launcher offset from the page's edges, in CSS pixels.
pub const MAX_LAUNCHER_OFFSET: u32 = 1_000;

/// Longest greeting, in characters.
pub const MAX_GREETING_CHARS: usize = 1_000;

/// Longest text override, in characters.
pub const MAX_TEXT_CHARS: usize = 1_000;

/// Longest text key (`launcher.open`), in bytes.
pub const MAX_TEXT_KEY_LEN: usize = 100;

/// Most text overrides per language.
pub const MAX_TEXTS_PER_LANGUAGE: usize = 500;

/// The text color for light brand colors (Tailwind gray-900).
pub const DARK_TEXT: &str = "#111827";

/// The text color for the rare brand colors on which [`DARK_TEXT`] would
/// stay under 4.5:1.
pub const BLACK_TEXT: &str = "#000000";

/// The text color for dark brand colors.
pub const LIGHT_TEXT: &str = "#ffffff";

/// Which bottom corner the launcher sits in.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum LauncherPosition {
    Left,
    #[default]
    Right,
}

impl LauncherPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            LauncherPosition::Left => "left",
            LauncherPosition::Right => "right",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "left" => Some(LauncherPosition::Left),
            "right" => Some(LauncherPosition::Right),
            _ => None,
        }
    }
}

/// What an admin sets for a site: body of `POST /api/v1/inbox/sites` and
/// `PUT /api/v1/inbox/sites/{id}` (the whole settings each time; a field
/// left out takes its default).
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
#[serde(default)]
pub struct SiteSettings {
    pub name: String,
    /// Exact origins (`https://shop.example`, `http://localhost:8080`)
    /// allowed to embed the widget and call the customer API. Empty: any
    /// origin (for development only).
    pub allowed_origins: Vec<String>,
    /// Brand color, `#rrggbb`.
    pub color: String,
    pub position: LauncherPosition,
    pub offset_x: u32,
    pub offset_y: u32,
    pub z_index: i32,
    pub greeting: Option<String>,
    /// One of [`SUPPORTED_LANGUAGES`]: used when none of the browser's is.
    pub default_language: String,
    /// Text overrides: `"*"` (every language) or a language → text key →
    /// text. Applied on top of the catalog.
    pub texts: BTreeMap<String, BTreeMap<String, String>>,
    /// When true, a customer must be verified (signed identity) to give
    /// contact details.
    pub identity_required: bool,
}

impl Default for SiteSettings {
    fn default() -> Self {
        SiteSettings {
            name: "My site".to_owned(),
            allowed_origins: Vec::new(),
            color: "#2563eb".to_owned(),
            position: LauncherPosition::Right,
            offset_x: 20,
            offset_y: 20,
            z_index: 2_147_483_000,
            greeting: None,
            default_language: "en".to_owned(),
            texts: BTreeMap::new(),
            identity_required: false,
        }
    }
}

/// A site as admins see it in the inbox.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct SiteAdmin {
    /// `default`, or `s_` and 32 hex digits.
    pub id: String,
    /// The public key the script tag carries: `default`, or `mws_` and 24 hex digits.
    pub key: String,
    #[serde(flatten)]
    pub settings: SiteSettings,
    /// Whether identity verification is set up (the secret itself is shown
    /// only when created or rotated).
    #[serde(default)]
    pub has_secret: bool,
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
}

/// Response to `GET /api/v1/inbox/sites`, oldest first.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct SiteList {
    pub sites: Vec<SiteAdmin>,
}

/// Response to `POST /api/v1/inbox/sites` (201): the secret for signing
/// identities, shown this once.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct CreatedSite {
    pub site: SiteAdmin,
    pub secret: String,
}

impl std::fmt::Debug for CreatedSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedSite")
            .field("site", &self.site)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Response to `POST /api/v1/inbox/sites/{id}/secret`: the new secret,
/// shown this once; the old one stops working.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct SiteSecret {
    pub secret: String,
}

impl std::fmt::Debug for SiteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteSecret(<redacted>)")
    }
}

/// Which site a conversation came from, as the inbox lists it.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct SiteRef {
    pub id: String,
    pub name: String,
}

impl Default for SiteRef {
    fn default() -> Self {
        SiteRef {
            id: DEFAULT_SITE_ID.to_owned(),
            name: String::new(),
        }
    }
}

/// Response to `GET /api/v1/sites/{key}/widget?lang=…` (public): what the
/// loader and the panel need to draw the widget of that site.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct WidgetConfig {
    /// The site's public key.
    pub site: String,
    pub name: String,
    pub color: String,
    /// [`contrast_text_color`] of `color`.
    pub text_color: String,
    pub position: LauncherPosition,
    pub offset_x: u32,
    pub offset_y: u32,
    pub z_index: i32,
    #[serde(default)]
    pub greeting: Option<String>,
    /// One of [`SUPPORTED_LANGUAGES`].
    pub language: String,
    /// `rtl` for Arabic, else `ltr`.
    pub dir: String,
    /// Every text of `language`, with the site's overrides applied.
    #[serde(default)]
    pub texts: BTreeMap<String, String>,
    #[serde(default)]
    pub identity_required: bool,
}

/// Picks the language: the first of `wanted` (a comma list such as
/// `de-DE,de;q=0.9,en`, tried in order, full tag then primary subtag) that
/// is supported; else `default` if supported; else `en`.
pub fn resolve_language(wanted: &str, default: &str) -> &'static str {
    for tag in wanted.split(',') {
        let tag = tag
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if tag.is_empty() {
            continue;
        }
        if let Some(found) = supported(&tag) {
            return found;
        }
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        if let Some(found) = supported(primary) {
            return found;
        }
    }
    supported(&default.to_ascii_lowercase()).unwrap_or("en")
}

fn supported(tag: &str) -> Option<&'static str> {
    SUPPORTED_LANGUAGES.iter().copied().find(|l| *l == tag)
}

/// `rtl` for right-to-left languages (Arabic), else `ltr`.
pub fn language_dir(language: &str) -> &'static str {
    if language == "ar" { "rtl" } else { "ltr" }
}

/// Parses `#rrggbb` or `#rgb` into its three channels.
pub fn parse_hex_color(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |s: &str| u8::from_str_radix(s, 16).ok();
    match hex.len() {
        6 => Some([
            channel(&hex[0..2])?,
            channel(&hex[2..4])?,
            channel(&hex[4..6])?,
        ]),
        3 => {
            let mut out = [0u8; 3];
            for (i, c) in hex.chars().enumerate() {
                out[i] = channel(&c.to_string())? * 17;
            }
            Some(out)
        }
        _ => None,
    }
}

/// WCAG 2.x relative luminance of an sRGB color.
pub fn relative_luminance(rgb: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
}

/// WCAG contrast ratio of two colors (1 to 21).
pub fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (relative_luminance(a), relative_luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// The text color for text on `color`: [`LIGHT_TEXT`] or [`DARK_TEXT`],
/// whichever has the higher WCAG contrast ratio. For the few mid-luminance
/// colors where neither reaches 4.5:1 (such as `#0077dd`: 4.48:1 with
/// white), pure black (`#000000`), which then always does (at least
/// 4.58:1): WCAG 2.2 AA holds whatever the brand color. An unreadable color
/// gets white (the default brand color is dark).
pub fn contrast_text_color(color: &str) -> &'static str {
    let Some(rgb) = parse_hex_color(color) else {
        return LIGHT_TEXT;
    };
    let white = contrast_ratio(rgb, [255, 255, 255]);
    let dark = contrast_ratio(rgb, [0x11, 0x18, 0x27]);
    if white.max(dark) < 4.5 {
        BLACK_TEXT
    } else if white >= dark {
        LIGHT_TEXT
    } else {
        DARK_TEXT
    }
}

/// Checks one allowed origin: `http` or `https`, a host, an optional port,
/// lowercase, nothing else (no path, no trailing slash).
pub fn validate_origin(origin: &str) -> bool {
    let rest = if let Some(r) = origin.strip_prefix("https://") {
        r
    } else if let Some(r) = origin.strip_prefix("http://") {
        r
    } else {
        return false;
    };
    if origin.len() > MAX_ORIGIN_LEN || rest.is_empty() {
        return false;
    }
    let (host, port) = match rest.rsplit_once(':') {
        // An IPv6 literal such as [::1] has colons of its own.
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (rest, None),
    };
    if let Some(port) = port
        && (port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u32>().map_or(true, |p| p == 0 || p > 65_535))
    {
        return false;
    }
    let ipv6 = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    let ipv6_ok = ipv6
        && host[1..host.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    ipv6_ok
        || !host.is_empty()
            && !host.starts_with('.')
            && !host.ends_with('.')
            && !host.starts_with('-')
            && host
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

fn valid_text_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_TEXT_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn plain_text(s: &str) -> bool {
    !s.chars().any(|c| c.is_control() && c != '\n')
}

/// The first problem with `settings`, naming the field (`None`: fine).
/// The server puts it in the `invalid_site` error's message.
pub fn site_settings_problem(settings: &SiteSettings) -> Option<String> {
    let name = settings.name.trim();
    if name.is_empty() || name.chars().count() > MAX_SITE_NAME_CHARS || !plain_text(name) {
        return Some(format!(
            "name: 1 to {MAX_SITE_NAME_CHARS} characters, without control characters"
        ));
    }
    if settings.allowed_origins.len() > MAX_ALLOWED_ORIGINS {
        return Some(format!(
            "allowed_origins: at most {MAX_ALLOWED_ORIGINS} origins"
        ));
    }
    for origin in &settings.allowed_origins {
        if !validate_origin(origin) {
            return Some(format!(
                "allowed_origins: {origin:?} is not an origin such as https://shop.example \
                 (scheme, lowercase host, optional port; no path or trailing slash)"
            ));
        }
    }
    if settings.color.len() != 7 || parse_hex_color(&settings.color).is_none() {
        return Some("color: a hex color such as #2563eb".to_owned());
    }
    if settings.offset_x > MAX_LAUNCHER_OFFSET {
        return Some(format!("offset_x: 0 to {MAX_LAUNCHER_OFFSET} pixels"));
    }
    if settings.offset_y > MAX_LAUNCHER_OFFSET {
        return Some(format!("offset_y: 0 to {MAX_LAUNCHER_OFFSET} pixels"));
    }
    if settings.z_index < 0 {
        return Some("z_index: 0 or more".to_owned());
    }
    if let Some(greeting) = &settings.greeting
        && (greeting.chars().count() > MAX_GREETING_CHARS || !plain_text(greeting))
    {
        return Some(format!("greeting: at most {MAX_GREETING_CHARS} characters"));
    }
    if supported(&settings.default_language).is_none() {
        return Some(format!(
            "default_language: one of {}",
            SUPPORTED_LANGUAGES.join(", ")
        ));
    }
    for (language, texts) in &settings.texts {
        if language != "*" && supported(language).is_none() {
            return Some(format!(
                "texts: {language:?} is not \"*\" or one of {}",
                SUPPORTED_LANGUAGES.join(", ")
            ));
        }
        if texts.len() > MAX_TEXTS_PER_LANGUAGE {
            return Some(format!(
                "texts.{language}: at most {MAX_TEXTS_PER_LANGUAGE} texts"
            ));
        }
        for (key, text) in texts {
            if !valid_text_key(key) {
                return Some(format!(
                    "texts.{language}: {key:?} is not a text key such as launcher.open"
                ));
            }
            if text.chars().count() > MAX_TEXT_CHARS || !plain_text(text) {
                return Some(format!(
                    "texts.{language}.{key}: at most {MAX_TEXT_CHARS} characters"
                ));
            }
        }
    }
    None
}

/// Checks site settings the way the server does ([`ErrorCode::InvalidSite`];
/// [`site_settings_problem`] says which field).
pub fn validate_site_settings(settings: &SiteSettings) -> Result<(), ErrorCode> {
    match site_settings_problem(settings) {
        None => Ok(()),
        Some(_) => Err(ErrorCode::InvalidSite),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_color_picks_the_higher_contrast() {
        assert_eq!(contrast_text_color("#2563eb"), LIGHT_TEXT);
        assert_eq!(contrast_text_color("#000000"), LIGHT_TEXT);
        assert_eq!(contrast_text_color("#ffffff"), DARK_TEXT);
        assert_eq!(contrast_text_color("#fde047"), DARK_TEXT); // yellow
        assert_eq!(contrast_text_color("#ff0"), DARK_TEXT);
        assert_eq!(contrast_text_color("#22c55e"), DARK_TEXT); // light green
        assert_eq!(contrast_text_color("#7c3aed"), LIGHT_TEXT); // violet
        assert_eq!(contrast_text_color("nonsense"), LIGHT_TEXT);
        // Neither white (4.48:1) nor #111827 reaches AA here.
        assert_eq!(contrast_text_color("#0077dd"), BLACK_TEXT);
    }

    #[test]
    fn the_chosen_text_color_always_reaches_aa() {
        // Every 17th step of each channel: the chosen color reaches 4.5:1.
        for r in (0..=255).step_by(17) {
            for g in (0..=255).step_by(17) {
                for b in (0..=255).step_by(17) {
                    let color = format!("#{r:02x}{g:02x}{b:02x}");
                    let text = parse_hex_color(contrast_text_color(&color)).unwrap();
                    let ratio = contrast_ratio([r as u8, g as u8, b as u8], text);
                    assert!(ratio >= 4.5, "{color}: {ratio}");
                }
            }
        }
    }

    #[test]
    fn luminance_matches_wcag_examples() {
        assert!((contrast_ratio([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 1e-9);
        assert!((relative_luminance([255, 255, 255]) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1.
        let r = contrast_ratio([0x76, 0x76, 0x76], [255, 255, 255]);
        assert!((r - 4.54).abs() < 0.01, "{r}");
    }

    #[test]
    fn languages_resolve_in_order_full_tag_then_primary() {
        assert_eq!(resolve_language("de-DE,de,en", "en"), "de");
        assert_eq!(resolve_language("pt-BR,fr;q=0.8", "en"), "fr");
        assert_eq!(resolve_language("AR", "en"), "ar");
        assert_eq!(resolve_language("pt,ja", "es"), "es");
        assert_eq!(resolve_language("", "de"), "de");
        assert_eq!(resolve_language("pt", "xx"), "en");
        assert_eq!(language_dir("ar"), "rtl");
        assert_eq!(language_dir("de"), "ltr");
    }

    #[test]
    fn origins_are_exact() {
        for ok in [
            "https://shop.example",
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
        ] {
            assert!(validate_origin(ok), "{ok}");
        }
        for bad in [
            "https://shop.example/",
            "https://shop.example/path",
            "shop.example",
            "ftp://shop.example",
            "https://Shop.example",
            "https://shop.example:0",
            "https://shop.example:99999",
            "https://",
            "*",
            "https://shop example",
        ] {
            assert!(!validate_origin(bad), "{bad}");
        }
    }

    #[test]
    fn settings_problems_name_the_field() {
        assert_eq!(validate_site_settings(&SiteSettings::default()), Ok(()));
        let with = |f: &dyn Fn(&mut SiteSettings)| {
            let mut s = SiteSettings::default();
            f(&mut s);
            site_settings_problem(&s).unwrap_or_default()
        };
        assert!(with(&|s| s.name = " ".into()).starts_with("name"));
        assert!(
            with(&|s| s.allowed_origins = vec!["https://a.example/".into()])
                .starts_with("allowed_origins")
        );
        assert!(with(&|s| s.color = "blue".into()).starts_with("color"));
        assert!(with(&|s| s.offset_x = 5000).starts_with("offset_x"));
        assert!(with(&|s| s.z_index = -1).starts_with("z_index"));
        assert!(with(&|s| s.default_language = "pt".into()).starts_with("default_language"));
        assert!(
            with(&|s| {
                s.texts.insert("pt".into(), BTreeMap::new());
            })
            .starts_with("texts")
        );
        let mut s = SiteSettings::default();
        s.texts
            .entry("*".into())
            .or_default()
            .insert("launcher.open".into(), "Chat".into());
        assert_eq!(validate_site_settings(&s), Ok(()));
    }

    #[test]
    fn site_admin_flattens_the_settings() {
        let admin = SiteAdmin {
            id: "default".into(),
            key: "default".into(),
            settings: SiteSettings::default(),
            has_secret: false,
            created_at: 1,
            updated_at: 1,
        };
        let json = serde_json::to_value(&admin).unwrap();
        assert_eq!(json["name"], "My site");
        assert_eq!(json["position"], "right");
        let back: SiteAdmin = serde_json::from_value(json).unwrap();
        assert_eq!(back, admin);
    }
}
