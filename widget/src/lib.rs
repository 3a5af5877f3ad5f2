//! The messenger widget's panel: a Leptos (client-side rendered) app that
//! runs in the iframe the loader script puts on the host page.
//!
//! Where things live:
//! - `../loader/widget.js`: the loader, plain JavaScript run by the host page;
//!   it draws the launcher button and unread badge and owns the iframe.
//! - [`components`]: the view, one component per file, [`App`] at the root.
//! - [`messenger`]: the panel's state and actions (send, retry, load history).
//! - [`timeline`]: the message list model, merging by `seq` and `client_id`.
//! - [`sync`]: how new messages arrive: one stream, reconnected with
//!   [`backoff`]; [`sse`] parses it.
//! - [`api`]: every HTTP call, with typed errors.
//! - [`bridge`]: the `postMessage` protocol with the loader, and the
//!   standalone (development) mode.
//! - [`clock`], [`ids`]: local time labels; client-generated message ids.
//!
//! Message text is only ever rendered as text nodes, never as HTML.

pub mod api;
pub mod backoff;
pub mod bridge;
pub mod clock;
pub mod components;
pub mod ids;
pub mod messenger;
pub mod sse;
pub mod sync;
pub mod timeline;

pub use components::app::App;
