//! The panel's link to the loader script (`widget/loader/widget.js`) on the
//! host page, over `postMessage`. The host page keeps the conversation token
//! in its own first-party storage and hands it over in `mw:init`; this side
//! reports back what the loader must remember or show.
//!
//! Frame → loader: `mw:ready` (the only message posted to `"*"`, and it carries
//! nothing), `mw:token {token}`, `mw:seen {seq}`, `mw:unread {count}`,
//! `mw:outbox {id, message?}` (remove the outbox entry `id`, then, if given,
//! store `message` as the last one), `mw:share {data}` (relay to the other
//! tabs), `mw:close`, `mw:event {name: "message-received", detail}` (a reply
//! that arrived live), `mw:identified {ok, error?}`. Also `mw:config {config}`
//! (another language), `mw:identify {identity}` and `mw:reset` from the
//! loader; `mw:init` carries `site`, `config` and `identity` too. Loader → frame: `mw:init {token, seen, outbox, title,
//! open, lead, resume, page}` (`resume`: the code of a resume link the host
//! page was opened with, see [`resume_code`]; `page`: the host page's URL,
//! recorded with a new conversation so emailed links lead back to it), `mw:visibility {open}`, `mw:lead` (this tab now leads) and
//! `mw:shared {data}` (from the leading tab); see [`crate::tabs`].
//! The outbox holds the customer's messages the server has not acknowledged
//! yet ([`Queued`]), so a reload, a crash or a closed tab loses none. Here, only messages from `window.parent` count, and
//! once `mw:init` has named the parent's origin, only that origin gets
//! messages. The loader, in turn, listens only to its iframe's window at the
//! server's origin and posts only to that origin.
//!
//! Opened directly (no parent: `trunk serve`, development), the panel runs
//! *standalone*: it keeps the token in its own storage and stays open.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use web_sys::MessageEvent;

use crate::site::Config;

/// Storage key of the standalone mode, in the panel's own origin.
const STANDALONE_KEY: &str = "messenger:standalone";

const DEFAULT_TITLE: &str = "Messages";

/// What the host page tells the panel.
#[derive(Clone, Debug)]
pub enum HostEvent {
    Init(Box<Init>),
    Visibility {
        open: bool,
    },
    /// This tab now leads the site's tabs (see [`crate::tabs`]).
    Lead,
    /// What the leading tab shared (see [`crate::tabs::Shared`]), as text.
    Shared(String),
    /// The stored outbox, changed by another tab.
    Stored(Vec<Queued>),
    /// The site's configuration changed (another language).
    Config(Config),
    /// The host page called `Messenger('identify', …)`.
    Identify(Identity),
    /// The host page called `Messenger('reset')`: forget everything.
    Reset,
}

/// The argument of the host page's `identify` call: a signed identity
/// (a JWT from the site's backend) and/or unverified contact details.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub struct Identity {
    pub token: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
}

impl Identity {
    /// Reads the identify call's argument (an object), field by field.
    fn from_js(value: &JsValue) -> Option<Self> {
        if !value.is_object() {
            return None;
        }
        let text = |name: &str| js_sys::Reflect::get(value, &name.into()).ok()?.as_string();
        Some(Identity {
            token: text("token"),
            name: text("name"),
            email: text("email"),
        })
    }
}

#[derive(Clone, Debug)]
pub struct Init {
    pub token: Option<String>,
    /// The highest `seq` the customer has seen.
    pub seen: i64,
    pub outbox: Vec<Queued>,
    pub title: String,
    pub open: bool,
    /// This tab leads the site's tabs.
    pub lead: bool,
    /// The code of the resume link the host page was opened with.
    pub resume: Option<String>,
    /// The host page's URL, if it is one the server records.
    pub page: Option<String>,
    /// The site's public key.
    pub site: String,
    /// The host page's origin (the browser's word for it), when embedded.
    pub origin: Option<String>,
    /// The site's configuration, if the loader has it.
    pub config: Option<Config>,
    /// The host page's latest identify call.
    pub identity: Option<Identity>,
}

/// Longest resume code taken from a link; anything longer is not one.
const MAX_RESUME_CODE: usize = 256;

/// The code a resume link's fragment (`#mw-resume=CODE`, the loader hands
/// over what follows `=`) carries, if it looks like one: the host page's
/// address is anyone's input.
pub fn resume_code(code: Option<&str>) -> Option<String> {
    let code = code?.trim();
    let plausible = !code.is_empty()
        && code.len() <= MAX_RESUME_CODE
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    plausible.then(|| code.to_owned())
}

/// A message in the stored outbox.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct Queued {
    /// The message's client id.
    pub id: String,
    pub body: String,
    /// When it was written (Unix ms).
    pub at: i64,
    /// Why the server refused it, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// `mw:init`'s fields. (The other messages carry one field or none, read
/// directly: a serde enum tagged by `type` would buffer every message and
/// cost the panel's download several kilobytes.)
#[derive(Deserialize)]
struct IncomingInit {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    seen: i64,
    // `outbox` is read apart, entry by entry: see `parse_outbox`.
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    open: bool,
    #[serde(default)]
    lead: bool,
    #[serde(default)]
    resume: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    site: Option<String>,
    // `config` and `identity` are read apart, field by field.
}

/// A message that arrived live, as the host page's `message-received`
/// listeners get it.
#[derive(Serialize)]
pub struct Received<'a> {
    pub id: &'a str,
    pub body: &'a str,
    pub author: &'a str,
    pub at: i64,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum Outgoing<'a> {
    #[serde(rename = "mw:ready")]
    Ready,
    /// `of`: the token the frame had, so that a frame out of date cannot
    /// replace a newer one (another tab's).
    #[serde(rename = "mw:token")]
    Token {
        token: Option<&'a str>,
        of: Option<&'a str>,
    },
    #[serde(rename = "mw:seen")]
    Seen { seq: i64, of: Option<&'a str> },
    #[serde(rename = "mw:unread")]
    Unread { count: usize },
    #[serde(rename = "mw:outbox")]
    Outbox {
        id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<&'a Queued>,
    },
    #[serde(rename = "mw:close")]
    Close,
    #[serde(rename = "mw:share")]
    Share { data: &'a str },
    #[serde(rename = "mw:event")]
    Event {
        name: &'a str,
        detail: &'a Received<'a>,
    },
    #[serde(rename = "mw:identified")]
    Identified {
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    },
}

/// The standalone mode's stored state; the same shape the loader stores.
#[derive(Serialize, Deserialize, Default)]
struct Stored {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    seen: i64,
    /// Read apart, entry by entry: see `parse_outbox`.
    #[serde(skip_deserializing)]
    outbox: Vec<Queued>,
}

#[derive(Clone, Copy)]
pub struct Bridge {
    standalone: bool,
    /// The parent's origin, from its `mw:init`; nothing is posted before.
    parent_origin: StoredValue<Option<String>>,
}

impl Bridge {
    pub fn new() -> Self {
        let standalone = match window().parent() {
            Ok(Some(parent)) => js_sys::Object::is(&parent, &window()),
            _ => true,
        };
        Bridge {
            standalone,
            parent_origin: StoredValue::new(None),
        }
    }

    pub fn is_standalone(self) -> bool {
        self.standalone
    }

    /// Starts listening to the host page, or, standalone, starts at once
    /// from the stored state.
    pub fn listen(self, on_event: impl Fn(HostEvent) + 'static) {
        if self.standalone {
            let stored = read_standalone();
            on_event(HostEvent::Init(Box::new(Init {
                token: stored.token,
                seen: stored.seen,
                outbox: stored.outbox,
                title: DEFAULT_TITLE.to_owned(),
                open: true,
                // Alone: no other tab to share with.
                lead: true,
                resume: standalone_resume(),
                page: None,
                site: frame_site(),
                origin: None,
                config: None,
                identity: None,
            })));
            return;
        }
        // Lives as long as the page; never removed.
        let _listener = window_event_listener(leptos::ev::message, move |event| {
            if let Some(host_event) = self.accept(&event) {
                on_event(host_event);
            }
        });
        post(&Outgoing::Ready, "*");
    }

    /// The conversation changed from `of` to `token` (`None`: forget it).
    /// The loader ignores it unless `of` is still the stored token.
    pub fn token_changed(self, token: Option<&str>, of: Option<&str>) {
        if self.standalone {
            update_standalone(|s| {
                s.token = token.map(str::to_owned);
                s.seen = 0;
            });
        } else {
            self.post(&Outgoing::Token { token, of });
        }
    }

    /// The customer has seen up to `seq` of the conversation of token `of`.
    pub fn seen(self, seq: i64, of: Option<&str>) {
        if self.standalone {
            update_standalone(|s| s.seen = seq);
        } else {
            self.post(&Outgoing::Seen { seq, of });
        }
    }

    /// Stores `message` as the last entry of the outbox, replacing any
    /// entry with the same id.
    pub fn outbox_put(self, message: &Queued) {
        self.outbox(&message.id, Some(message));
    }

    /// Removes an entry from the outbox.
    pub fn outbox_remove(self, id: &str) {
        self.outbox(id, None);
    }

    fn outbox(self, id: &str, message: Option<&Queued>) {
        if self.standalone {
            update_standalone(|s| {
                s.outbox.retain(|m| m.id != id);
                s.outbox.extend(message.cloned());
            });
        } else {
            self.post(&Outgoing::Outbox { id, message });
        }
    }

    pub fn unread(self, count: usize) {
        if !self.standalone {
            self.post(&Outgoing::Unread { count });
        }
    }

    /// Hands what this (leading) tab shares to the loader, which relays it
    /// to the site's other tabs.
    pub fn share(self, data: &str) {
        if !self.standalone {
            self.post(&Outgoing::Share { data });
        }
    }

    /// A message from the team arrived live.
    pub fn received(self, message: &Received) {
        if !self.standalone {
            self.post(&Outgoing::Event {
                name: "message-received",
                detail: message,
            });
        }
    }

    /// How the host page's identify call went.
    pub fn identified(self, error: Option<&str>) {
        if !self.standalone {
            self.post(&Outgoing::Identified {
                ok: error.is_none(),
                error,
            });
        }
    }

    /// Standalone, a reset forgets the stored state too.
    pub fn forget_standalone(self) {
        if self.standalone
            && let Ok(Some(storage)) = window().local_storage()
        {
            _ = storage.remove_item(STANDALONE_KEY);
        }
    }

    /// Asks the loader to close the panel.
    pub fn close(self) {
        if !self.standalone {
            self.post(&Outgoing::Close);
        }
    }

    fn accept(self, event: &MessageEvent) -> Option<HostEvent> {
        let from_parent = match (event.source(), window().parent()) {
            (Some(source), Ok(Some(parent))) => js_sys::Object::is(&source, &parent),
            _ => false,
        };
        if !from_parent {
            return None;
        }
        let origin = event.origin();
        let known = self.parent_origin.get_value();
        if known.as_ref().is_some_and(|known| *known != origin) {
            return None;
        }
        let data = event.data();
        // Not an object (a string, say): `Reflect.get` throws, and it is dropped.
        let field = |name: &str| js_sys::Reflect::get(&data, &name.into()).ok();
        match field("type")?.as_string()?.as_str() {
            "mw:init" => {
                // One init per page load: a second one cannot swap the token.
                if known.is_some() {
                    return None;
                }
                let text = js_sys::JSON::stringify(&data).ok()?.as_string()?;
                let init: IncomingInit = serde_json::from_str(&text).ok()?;
                self.parent_origin.set_value(Some(origin.clone()));
                let site = init
                    .site
                    .filter(|s| valid_site_key(s))
                    .unwrap_or_else(frame_site);
                Some(HostEvent::Init(Box::new(Init {
                    site,
                    origin: Some(origin),
                    config: field("config")
                        .filter(JsValue::is_object)
                        .map(|c| Config::from_js(&c)),
                    identity: field("identity").and_then(|i| Identity::from_js(&i)),
                    token: init.token.filter(|t| !t.is_empty()),
                    seen: init.seen,
                    outbox: parse_outbox(&data),
                    title: init
                        .title
                        .filter(|t| !t.trim().is_empty())
                        .unwrap_or_else(|| DEFAULT_TITLE.to_owned()),
                    open: init.open,
                    lead: init.lead,
                    resume: resume_code(init.resume.as_deref()),
                    page: init
                        .page
                        .filter(|p| messenger_wire::validate_page_url(p).is_ok()),
                })))
            }
            // Anything else only once the parent has introduced itself.
            _ if known.is_none() => None,
            "mw:visibility" => Some(HostEvent::Visibility {
                open: field("open")?.as_bool()?,
            }),
            "mw:lead" => Some(HostEvent::Lead),
            "mw:shared" => Some(HostEvent::Shared(field("data")?.as_string()?)),
            "mw:stored" => Some(HostEvent::Stored(parse_outbox(&data))),
            "mw:config" => Some(HostEvent::Config(Config::from_js(
                &field("config").filter(JsValue::is_object)?,
            ))),
            "mw:identify" => Some(HostEvent::Identify(Identity::from_js(&field("identity")?)?)),
            "mw:reset" => Some(HostEvent::Reset),
            _ => None,
        }
    }

    fn post(self, message: &Outgoing) {
        if let Some(origin) = self.parent_origin.get_value() {
            post(message, &origin);
        }
    }
}

impl Default for Bridge {
    fn default() -> Self {
        Self::new()
    }
}

fn post(message: &Outgoing, target_origin: &str) {
    let Ok(Some(parent)) = window().parent() else {
        return;
    };
    let Ok(text) = serde_json::to_string(message) else {
        return;
    };
    let data = js_sys::JSON::parse(&text).unwrap_or(JsValue::NULL);
    // Fails only if the parent navigated away; nothing to do then.
    _ = parent.post_message(&data, target_origin);
}

/// The well-formed entries of `state.outbox`. Storage can be written by
/// other code too (and by older versions), so a bad entry costs only itself.
fn parse_outbox(state: &JsValue) -> Vec<Queued> {
    let Ok(entries) = js_sys::Reflect::get(state, &"outbox".into()) else {
        return Vec::new();
    };
    if !js_sys::Array::is_array(&entries) {
        return Vec::new();
    }
    js_sys::Array::from(&entries)
        .iter()
        .filter_map(|entry| js_sys::JSON::stringify(&entry).ok()?.as_string())
        .filter_map(|text| serde_json::from_str::<Queued>(&text).ok())
        .filter(|m| messenger_wire::validate_client_id(&m.id).is_ok())
        .collect()
}

/// A site key as the contract writes them: `default`, or `mws_` and 24
/// lowercase hex digits. (It goes into a header and a path.)
pub fn valid_site_key(key: &str) -> bool {
    key == "default"
        || key.strip_prefix("mws_").is_some_and(|hex| {
            hex.len() == 24 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// The site named in the frame's own address (`/frame/?site=KEY`), else
/// the `default` site.
fn frame_site() -> String {
    window()
        .location()
        .search()
        .ok()
        .and_then(|search| {
            search
                .trim_start_matches('?')
                .split('&')
                .find_map(|pair| pair.strip_prefix("site=").map(str::to_owned))
        })
        .filter(|s| valid_site_key(s))
        .unwrap_or_else(|| "default".to_owned())
}

/// Standalone, the panel's own address carries the resume link: taken off
/// it at once, like the loader does on a host page.
fn standalone_resume() -> Option<String> {
    let location = window().location();
    let hash = location.hash().ok()?;
    let code = hash
        .strip_prefix('#')?
        .strip_prefix(messenger_wire::RESUME_FRAGMENT)?
        .to_owned();
    if let (Ok(path), Ok(search), Ok(history)) =
        (location.pathname(), location.search(), window().history())
    {
        _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("{path}{search}")));
    }
    resume_code(Some(&code))
}

fn read_standalone() -> Stored {
    let Some(text) = window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(STANDALONE_KEY).ok().flatten())
    else {
        return Stored::default();
    };
    let mut stored: Stored = serde_json::from_str(&text).unwrap_or_default();
    if let Ok(state) = js_sys::JSON::parse(&text) {
        stored.outbox = parse_outbox(&state);
    }
    stored
}

fn update_standalone(change: impl FnOnce(&mut Stored)) {
    let mut stored = read_standalone();
    change(&mut stored);
    if let (Ok(Some(storage)), Ok(text)) =
        (window().local_storage(), serde_json::to_string(&stored))
    {
        _ = storage.set_item(STANDALONE_KEY, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::resume_code;

    #[test]
    fn a_resume_code_is_taken_as_given_without_surrounding_spaces() {
        assert_eq!(
            resume_code(Some(" abc-DEF_123 ")).as_deref(),
            Some("abc-DEF_123")
        );
    }

    #[test]
    fn only_well_formed_site_keys_are_taken() {
        use super::valid_site_key;
        assert!(valid_site_key("default"));
        assert!(valid_site_key("mws_0123456789abcdef01234567"));
        assert!(!valid_site_key("mws_0123456789ABCDEF01234567"));
        assert!(!valid_site_key("mws_123"));
        assert!(!valid_site_key("../inbox"));
    }

    #[test]
    fn anything_that_cannot_be_a_resume_code_is_ignored() {
        assert_eq!(resume_code(None), None);
        assert_eq!(resume_code(Some("")), None);
        assert_eq!(resume_code(Some("a b")), None);
        assert_eq!(resume_code(Some("<script>")), None);
        assert_eq!(resume_code(Some(&"x".repeat(257))), None);
    }
}
