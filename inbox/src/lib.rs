//! The agents' inbox: a Leptos (client-side rendered) app that the server
//! serves at `/inbox/`, on its own origin, so its API calls carry the
//! session cookie (HttpOnly, SameSite=Strict) and no token is ever in reach
//! of script.
//!
//! - [`api`]: every HTTP call, with the CSRF header on state-changing ones.
//! - [`components`]: the view; [`App`] signs in or shows the inbox.
//!
//! Message text is only ever rendered as text nodes, never as HTML.

pub mod api;
pub mod components;
pub mod state;

pub use components::app::App;
