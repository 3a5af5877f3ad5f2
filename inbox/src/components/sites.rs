//! Sites: the websites the widget runs on. Admins add them and edit each
//! one's settings (allowed origins, look, language, texts, identity
//! verification), rotate its identity secret (shown once) and copy its embed
//! snippet. Like the hours, the team and the API keys, sites are for
//! admins: other agents only see which site each conversation came from.
//!
//! Size: every reactive closure in a view costs the bundle about a
//! kilobyte, so this form keeps few of them. Its fields are plain inputs read
//! when it is saved; what must follow typing (the preview, the origins'
//! warnings) is one closure each, and fields that mirror each other (the
//! color picker and its text, the greeting here and in the hours form) are
//! kept in step by their input handlers.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::{
    LauncherPosition, SiteAdmin, SiteSettings, contrast_ratio, contrast_text_color,
    parse_hex_color, validate_origin,
};

use crate::api::{self, ForAgent as _};
use crate::components::settings::{checked, error_line, field, form_of, outcome_line};
use crate::state::Inbox;

/// The widget's languages, as the forms offer them.
const LANGUAGES: [(&str, &str); 5] = [
    ("en", "English"),
    ("de", "German"),
    ("fr", "French"),
    ("es", "Spanish"),
    ("ar", "Arabic"),
];

/// The widget's English texts (key → text): the keys a site may override.
const CATALOG: &str = include_str!("../../../server/i18n/en.json");

/// Sets the value of the input `id`, if it is on the page.
pub fn set_value(id: &str, value: &str) {
    if let Some(el) = document().get_element_by_id(id) {
        _ = js_sys::Reflect::set(&el, &"value".into(), &value.into());
    }
}

/// Sets the text of the element `id`, if it is on the page.
fn set_text(id: &str, text: &str) {
    if let Some(el) = document().get_element_by_id(id) {
        el.set_text_content(Some(text));
    }
}

/// A labelled, required input named `id`: a name (up to 100 characters),
/// or with `max` a number from 0 to `max`. One function for these fields,
/// so that their view code is in the bundle once.
fn input_field(
    id: &'static str,
    label: &'static str,
    value: String,
    max: Option<&'static str>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input
            id=id
            name=id
            type=if max.is_some() { "number" } else { "text" }
            min=max.map(|_| "0")
            max=max
            maxlength=if max.is_some() { None } else { Some("100") }
            required
            value=value
        />
    }
}

/// The origins of a textarea, one per line (blank lines left out).
fn origin_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `#rrggbb`, or `None`.
fn hex_color(text: &str) -> Option<String> {
    let text = text.trim();
    (text.len() == 7 && parse_hex_color(text).is_some()).then(|| text.to_ascii_lowercase())
}

/// Copies `text` to the clipboard and says how it went in the element
/// `status`.
fn copy(text: &str, status: &'static str) {
    let promise = window().navigator().clipboard().write_text(text);
    spawn_local(async move {
        let copied = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
        set_text(
            status,
            if copied {
                "Copied."
            } else {
                "Could not copy: select the text and copy it."
            },
        );
    });
}

/// The sites (admins only, like every setting of the team's): the list,
/// a new site, and the editor of one. `selected`: the site the admin
/// picked; `chosen`: the one shown (the picked one, else the first).
#[component]
pub fn Sites(selected: RwSignal<Option<String>>, chosen: Memo<Option<String>>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    // The identity secret just created or rotated, of which site: shown
    // once, never fetched again.
    let secret = RwSignal::new(None::<(String, String)>);
    view! {
        <div class="panel-form sites" data-testid="sites">
            <h2>"Sites"</h2>
            <p class="hint">"Each website that embeds the messenger, with its own look and rules."</p>
            <ul class="site-list" aria-label="Choose a site">
                {move || {
                    let chosen = chosen.get();
                    inbox
                        .sites
                        .get()
                        .into_iter()
                        .map(|site| {
                            let pressed = chosen.as_ref() == Some(&site.id);
                            let id = site.id;
                            view! {
                                <li>
                                    <button
                                        type="button"
                                        aria-pressed=pressed.to_string()
                                        data-testid="site-item"
                                        on:click=move |_| selected.set(Some(id.clone()))
                                    >
                                        {site.settings.name}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            <NewSite selected secret />
            {move || {
                chosen
                    .get()
                    .and_then(|id| {
                        inbox.sites.with_untracked(|s| s.iter().find(|s| s.id == id).cloned())
                    })
                    .map(|site| view! { <SiteEditor site secret /> })
            }}
        </div>
    }
}

/// Adds a site: a name and the origins allowed to embed it; the rest can be
/// set once it exists.
#[component]
fn NewSite(
    selected: RwSignal<Option<String>>,
    secret: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let origins = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let create = move |event: leptos::ev::SubmitEvent| {
        let Some(form) = form_of(&event) else { return };
        let settings = SiteSettings {
            name: field(&form, "new-site-name").trim().to_owned(),
            allowed_origins: origin_lines(&field(&form, "new-site-origins")),
            ..SiteSettings::default()
        };
        spawn_local(async move {
            match api::create_site(&inbox.csrf(), &settings).await {
                Ok((site, new_secret)) => {
                    form.reset();
                    origins.set(String::new());
                    error.set(None);
                    let id = site.id.clone();
                    inbox.sites.update(|sites| sites.push(site));
                    secret.set(Some((id.clone(), new_secret)));
                    selected.set(Some(id));
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    view! {
        <form class="new-site" on:submit=create data-testid="new-site">
            <h3>"Add a site"</h3>
            {input_field("new-site-name", "Name", String::new(), None)}
            <label for="new-site-origins">"Allowed origins (one per line)"</label>
            <textarea
                id="new-site-origins"
                name="new-site-origins"
                rows="2"
                placeholder="https://shop.example"
                aria-describedby="new-site-origins-hint"
                on:input=move |ev| origins.set(event_target_value(&ev))
            ></textarea>
            <OriginsHint id="new-site-origins-hint" origins />
            {error_line(error)}
            <button type="submit">"Add site"</button>
        </form>
    }
}

/// Under an origins field: the warning when it is empty, and the lines that
/// are no origin.
#[component]
fn OriginsHint(id: &'static str, origins: RwSignal<String>) -> impl IntoView {
    view! {
        <div id=id class="origins-hint">
            {move || {
                let lines = origins.with(|o| origin_lines(o));
                let wrong: Vec<String> = lines
                    .iter()
                    .filter(|o| !validate_origin(o))
                    .map(|o| format!("\u{201c}{o}\u{201d}"))
                    .collect();
                let text = if lines.is_empty() {
                    "Any website can embed this widget. List your site's origins to allow only them."
                        .to_owned()
                } else if wrong.is_empty() {
                    return None;
                } else {
                    format!(
                        "Not an origin: {}. Write the scheme and the host, with the port if any, \
                         in lowercase and without a path, such as https://shop.example",
                        wrong.join(", ")
                    )
                };
                Some(view! { <p class="warning" data-testid="origins-warning">{text}</p> })
            }}
        </div>
    }
}

/// Sets a style property (`backgroundColor`) of the element `id`, through
/// the CSSOM, which the page's CSP allows (a `style` attribute it would not).
fn set_style(id: &str, property: &str, value: &str) {
    if let Some(style) = document()
        .get_element_by_id(id)
        .and_then(|el| js_sys::Reflect::get(&el, &"style".into()).ok())
    {
        _ = js_sys::Reflect::set(&style, &property.into(), &value.into());
    }
}

/// What the preview says about the text on `color`: the text color chosen
/// for it and their contrast.
fn text_on(color: &str) -> String {
    let text = contrast_text_color(color);
    let tenths = parse_hex_color(color)
        .zip(parse_hex_color(text))
        .map_or(0, |(bg, fg)| (contrast_ratio(bg, fg) * 10.0) as u32);
    format!("{text} (contrast {}.{}:1)", tenths / 10, tenths % 10)
}

/// Paints the preview (launcher and panel header) in `color`, with the
/// text color chosen for it.
fn paint_preview(color: &str) {
    let text = contrast_text_color(color);
    for id in ["preview-head", "preview-launcher"] {
        set_style(id, "backgroundColor", color);
        set_style(id, "color", text);
    }
    set_text("site-text-color", &text_on(color));
}

/// One text override's row, and what it started with.
#[derive(Clone)]
struct TextRow {
    id: usize,
    language: String,
    key: String,
    text: String,
    removed: bool,
}

/// Every setting of one site, its identity secret and its embed snippet.
#[component]
fn SiteEditor(site: SiteAdmin, secret: RwSignal<Option<(String, String)>>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let id = StoredValue::new(site.id.clone());
    let key = site.key.clone();
    let s = site.settings;
    // The preview shows the color once on the page, then as it is typed.
    let initial = s.color.clone();
    request_animation_frame(move || paint_preview(&initial));
    let origins = RwSignal::new(s.allowed_origins.join("\n"));
    let mut next = 0;
    let rows = RwSignal::new(
        s.texts
            .iter()
            .flat_map(|(language, texts)| texts.iter().map(move |(k, t)| (language, k, t)))
            .map(|(language, key, text)| {
                next += 1;
                TextRow {
                    id: next,
                    language: language.clone(),
                    key: key.clone(),
                    text: text.clone(),
                    removed: false,
                }
            })
            .collect::<Vec<_>>(),
    );
    let next_row = StoredValue::new(next);
    let code = snippet(&key);
    let has_secret = RwSignal::new(site.has_secret);
    let outcome = RwSignal::new(None::<(bool, String)>);

    let save = move |event: leptos::ev::SubmitEvent| {
        let Some(form) = form_of(&event) else { return };
        let number = |name: &str| field(&form, name).trim().parse::<i64>().ok();
        let (Some(offset_x), Some(offset_y), Some(z_index)) = (
            number("site-offset-x").and_then(|n| u32::try_from(n).ok()),
            number("site-offset-y").and_then(|n| u32::try_from(n).ok()),
            number("site-z-index").and_then(|n| i32::try_from(n).ok()),
        ) else {
            outcome.set(Some((
                false,
                "Distances and the stacking order are whole numbers.".to_owned(),
            )));
            return;
        };
        let mut texts: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for row in rows.get_untracked().iter().filter(|row| !row.removed) {
            let text_field = |what: &str| field(&form, &format!("text-{what}-{}", row.id));
            let key = text_field("key").trim().to_owned();
            let text = text_field("value");
            if !key.is_empty() && !text.trim().is_empty() {
                texts
                    .entry(text_field("language"))
                    .or_default()
                    .insert(key, text);
            }
        }
        let greeting = field(&form, "site-greeting").trim().to_owned();
        let settings = SiteSettings {
            name: field(&form, "site-name").trim().to_owned(),
            allowed_origins: origin_lines(&field(&form, "site-origins")),
            color: field(&form, "site-color").trim().to_owned(),
            position: LauncherPosition::parse(&field(&form, "site-position")).unwrap_or_default(),
            offset_x,
            offset_y,
            z_index,
            greeting: (!greeting.is_empty()).then_some(greeting),
            default_language: field(&form, "site-language"),
            texts,
            identity_required: checked(&form, "site-identity"),
        };
        spawn_local(async move {
            match api::save_site(&inbox.csrf(), &id.get_value(), &settings).await {
                Ok(saved) => {
                    // The same greeting as in the site's hours form.
                    set_value(
                        "greeting",
                        saved.settings.greeting.as_deref().unwrap_or_default(),
                    );
                    inbox.sites.update(|sites| {
                        if let Some(old) = sites.iter_mut().find(|s| s.id == saved.id) {
                            *old = saved;
                        }
                    });
                    outcome.set(Some((true, "Saved.".to_owned())));
                }
                Err(e) => outcome.set(Some((false, e.message()))),
            }
        });
    };
    let on_color = move |ev: leptos::ev::Event| {
        let typed = event_target_value(&ev);
        if let Some(valid) = hex_color(&typed) {
            // The picker and the text field show the same color.
            set_value("site-color-picker", &valid);
            if typed.trim() != valid {
                set_value("site-color", &valid);
            }
            paint_preview(&valid);
        }
    };

    let positions = [
        (LauncherPosition::Left, "Bottom left"),
        (LauncherPosition::Right, "Bottom right"),
    ]
    .into_iter()
    .map(|(value, label)| {
        view! {
            <label>
                <input
                    type="radio"
                    name="site-position"
                    value=value.as_str()
                    checked=s.position == value
                    on:change=move |_| {
                        let stage = if value == LauncherPosition::Left { "stage left" } else { "stage" };
                        if let Some(el) = document().get_element_by_id("preview-stage") {
                            el.set_class_name(stage);
                        }
                    }
                />
                {label}
            </label>
        }
    })
    .collect_view();
    let languages = LANGUAGES
        .into_iter()
        .map(|(code, name)| {
            view! { <option value=code selected=s.default_language == code>{name}</option> }
        })
        .collect_view();
    let keys = serde_json::from_str::<BTreeMap<String, String>>(CATALOG)
        .unwrap_or_default()
        .into_iter()
        .map(|(key, text)| view! { <option value=key>{text}</option> })
        .collect_view();

    view! {
        <form class="site-editor" on:submit=save data-testid="site-editor">
            <h3>"Settings of " {s.name.clone()}</h3>
            <p class="hint">"Public key: " <code data-testid="site-key">{key.clone()}</code></p>
            {input_field("site-name", "Name", s.name.clone(), None)}

            <label for="site-origins">"Allowed origins (one per line)"</label>
            <textarea
                id="site-origins"
                name="site-origins"
                rows="3"
                placeholder="https://shop.example"
                aria-describedby="site-origins-hint"
                on:input=move |ev| origins.set(event_target_value(&ev))
                data-testid="site-origins"
            >
                {s.allowed_origins.join("\n")}
            </textarea>
            <OriginsHint id="site-origins-hint" origins />

            <fieldset>
                <legend>"Look"</legend>
                <div class="color-row">
                    <label for="site-color-picker">"Brand color"</label>
                    <input id="site-color-picker" type="color" value=s.color.clone() on:input=on_color />
                    <label for="site-color" class="visually-hidden">"Brand color (hex)"</label>
                    <input
                        id="site-color"
                        name="site-color"
                        size="8"
                        maxlength="7"
                        value=s.color.clone()
                        on:input=on_color
                        data-testid="site-color"
                    />
                </div>
                <p class="hint">
                    "Text on it is automatic: "
                    <code id="site-text-color" data-testid="site-text-color">{text_on(&s.color)}</code>
                </p>
                <figure class="preview" data-testid="site-preview">
                    <figcaption>"Preview"</figcaption>
                    <div
                        id="preview-stage"
                        class=if s.position == LauncherPosition::Left { "stage left" } else { "stage" }
                    >
                        <div class="preview-panel">
                            <p class="preview-head" id="preview-head">"Messages"</p>
                        </div>
                        <span class="preview-launcher" id="preview-launcher">"Chat"</span>
                    </div>
                </figure>
                <fieldset class="choices">
                    <legend>"Launcher position"</legend>
                    {positions}
                </fieldset>
                {input_field("site-offset-x", "Distance from the side (pixels)", s.offset_x.to_string(), Some("1000"))}
                {input_field("site-offset-y", "Distance from the bottom (pixels)", s.offset_y.to_string(), Some("1000"))}
                {input_field("site-z-index", "Stacking order (z-index)", s.z_index.to_string(), Some("2147483647"))}
            </fieldset>

            <label for="site-greeting">"Greeting"</label>
            <input
                id="site-greeting"
                name="site-greeting"
                maxlength="500"
                placeholder="Hi! How can we help?"
                value=s.greeting.clone().unwrap_or_default()
                on:input=|ev| set_value("greeting", &event_target_value(&ev))
            />
            <label for="site-language">"Default language (when none of the visitor's is available)"</label>
            <select id="site-language" name="site-language">{languages}</select>

            <fieldset>
                <legend>"Texts"</legend>
                <p class="hint">"Replace any text of the widget, in one language or in all of them."</p>
                <datalist id="text-keys">{keys}</datalist>
                <ul class="text-rows">
                    {move || {
                        rows.get()
                            .into_iter()
                            .map(|row| (!row.removed).then(|| text_row(row, rows)))
                            .collect_view()
                    }}
                </ul>
                <button
                    type="button"
                    on:click=move |_| {
                        let id = next_row.get_value() + 1;
                        next_row.set_value(id);
                        rows.update(|r| {
                            r.push(TextRow {
                                id,
                                language: "*".to_owned(),
                                key: String::new(),
                                text: String::new(),
                                removed: false,
                            })
                        });
                    }
                    data-testid="add-text"
                >
                    "Add a text"
                </button>
            </fieldset>

            <fieldset>
                <legend>"Identity verification"</legend>
                <label>
                    <input type="checkbox" name="site-identity" checked=s.identity_required />
                    "Require verified identity"
                </label>
                <p class="hint">
                    "Your backend signs each signed-in user's id with the site's secret (a JWT, HS256). "
                    "When required, visitors without a valid signature cannot give their name or email."
                </p>
            </fieldset>

            {outcome_line(outcome, "site-outcome")}
            <button type="submit" class="primary">"Save site"</button>
        </form>
        <SecretBox id secret has_secret />
        <section class="embed" aria-labelledby="embed-title">
            <h3 id="embed-title">"Embed code"</h3>
            <p class="hint">"Paste it into every page of the site, before " <code>"</body>"</code> "."</p>
            <pre><code data-testid="embed-snippet">{code.clone()}</code></pre>
            <button type="button" on:click=move |_| copy(&code, "embed-copied")>
                "Copy embed code"
            </button>
            <p class="ok" id="embed-copied" role="status"></p>
        </section>
    }
}

/// The embed snippet of a site served from the inbox's own origin.
fn snippet(key: &str) -> String {
    let origin = window().location().origin().unwrap_or_default();
    format!("<script src=\"{origin}/widget.js\" async data-site=\"{key}\"></script>")
}

/// A row of the texts' editor. Rows are only ever added or marked
/// removed, so each keeps its place (and what was typed in it) when the
/// list is drawn again.
fn text_row(row: TextRow, rows: RwSignal<Vec<TextRow>>) -> impl IntoView {
    let id = row.id;
    let languages = [("*", "All languages")]
        .into_iter()
        .chain(LANGUAGES)
        .map(|(code, name)| view! { <option value=code selected=row.language == code>{name}</option> })
        .collect_view();
    view! {
        <li class="text-row" data-testid="text-row">
            <select name=format!("text-language-{id}") aria-label="Language">{languages}</select>
            <input
                name=format!("text-key-{id}")
                aria-label="Text key"
                list="text-keys"
                placeholder="launcher.open"
                value=row.key
            />
            <input name=format!("text-value-{id}") aria-label="Text" class="text-value" value=row.text />
            <button
                type="button"
                on:click=move |_| {
                    rows.update(|r| r.iter_mut().filter(|x| x.id == id).for_each(|x| x.removed = true))
                }
            >
                "Remove"
            </button>
        </li>
    }
}

/// The identity secret: whether there is one, rotating it (after a
/// confirmation), and the new one shown once.
#[component]
fn SecretBox(
    id: StoredValue<String>,
    secret: RwSignal<Option<(String, String)>>,
    has_secret: RwSignal<bool>,
) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let rotate = move |_| {
        confirming.set(false);
        spawn_local(async move {
            match api::rotate_site_secret(&inbox.csrf(), &id.get_value()).await {
                Ok(new) => {
                    error.set(None);
                    has_secret.set(true);
                    secret.set(Some((id.get_value(), new.secret)));
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    view! {
        <section class="site-secret" aria-labelledby="site-secret-title" data-testid="site-secret-section">
            <h3 id="site-secret-title">"Identity secret"</h3>
            {move || {
                let shown = secret
                    .get()
                    .filter(|(site, _)| id.with_value(|id| id == site))
                    .map(|(_, value)| value);
                let asking = shown.is_none() && confirming.get();
                let idle = shown.is_none() && !asking;
                let status = if has_secret.get() {
                    "A secret is set. It is shown only when created or rotated."
                } else {
                    "No secret yet: rotate to create one."
                };
                (
                    shown
                        .map(|value| {
                            view! {
                                <div class="secret" role="status" data-testid="site-secret-box">
                                    <p>
                                        <strong>"Copy this secret now: it is not shown again."</strong>
                                        " Keep it on your server; never put it in a web page."
                                    </p>
                                    <code data-testid="site-secret">{value.clone()}</code>
                                    <button type="button" on:click=move |_| copy(&value, "secret-copied")>
                                        "Copy secret"
                                    </button>
                                    <button type="button" on:click=move |_| secret.set(None)>
                                        "Done"
                                    </button>
                                    <p class="ok" id="secret-copied"></p>
                                </div>
                            }
                        }),
                    asking
                        .then(|| {
                            view! {
                                <div class="confirm" role="group" aria-labelledby="rotate-warning">
                                    <p id="rotate-warning">
                                        "Rotate the secret? The current one stops working at once: identities "
                                        "your backend signs with it are refused until it uses the new one."
                                    </p>
                                    <button type="button" class="danger" on:click=rotate data-testid="rotate-confirm">
                                        "Rotate now"
                                    </button>
                                    <button type="button" on:click=move |_| confirming.set(false)>
                                        "Cancel"
                                    </button>
                                </div>
                            }
                        }),
                    idle
                        .then(|| {
                            view! {
                                <p class="hint">{status}</p>
                                <button type="button" on:click=move |_| confirming.set(true) data-testid="rotate-secret">
                                    "Rotate secret"
                                </button>
                            }
                        }),
                )
            }}
            {error_line(error)}
        </section>
    }
}
