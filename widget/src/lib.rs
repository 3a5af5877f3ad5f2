//! The messenger widget's panel: a Leptos (client-side rendered) app that
//! runs in the iframe the loader script puts on the host page.
//!
//! Where things live:
//! - `../loader/widget.js`: the loader, plain JavaScript run by the host page;
//!   it draws the launcher button and unread badge and owns the iframe.
//! - [`components`]: the view, one component per file, [`App`] at the root.
//! - [`messenger`]: the panel's state and actions (the outbox, history, read
//!   marks, typing, moving between the customer's conversations).
//! - [`account`]: the customer behind the token: their email and every
//!   conversation they had.
//! - [`timeline`]: the message list model, merging by `seq` and `client_id`.
//! - [`sync`]: how new messages arrive: one stream, reconnected with
//!   [`backoff`]; `messenger_wire::sse` parses it. [`tabs`]: one stream for all the tabs
//!   of a site, held by a leader that shares what it receives.
//! - [`alarm`]: a wait that the network coming back cuts short.
//! - [`api`]: every HTTP call, with typed errors.
//! - [`bridge`]: the `postMessage` protocol with the loader, and the
//!   standalone (development) mode.
//! - [`clock`], [`ids`]: local time labels (in the panel's language, through
//!   the browser's `Intl`); client-generated message ids.
//! - [`texts`]: every text by key (`server/i18n/*.json`), with the site's
//!   language and overrides; [`site`]: the site's configuration applied to
//!   the page (`lang`, `dir`, brand colours, greeting).
//!
//! Message text is only ever rendered as text nodes, never as HTML.

pub mod account;
pub mod alarm;
pub mod api;
pub mod backoff;
pub mod bridge;
pub mod clock;
pub mod components;
pub mod effect;
pub mod expectations;
pub mod ids;
pub mod messenger;
pub mod site;
pub mod sync;
pub mod tabs;
pub mod texts;
pub mod timeline;

pub use components::app::App;
