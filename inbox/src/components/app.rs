//! The root: asks the server whether the session cookie is still good, then
//! shows the sign-in form or the inbox.

use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::InboxSession;

use crate::api;
use crate::components::{shell::Shell, sign_in::SignIn};

/// Where the inbox stands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Auth {
    /// Asking the server.
    Checking,
    SignedOut,
    SignedIn(InboxSession),
}

#[component]
pub fn App() -> impl IntoView {
    let auth = RwSignal::new(Auth::Checking);
    provide_context(auth);
    spawn_local(async move {
        auth.set(match api::session().await {
            Ok(session) => Auth::SignedIn(session),
            // Not signed in, or the server cannot say: the form explains
            // what goes wrong when it is used.
            Err(_) => Auth::SignedOut,
        });
    });
    view! {
        {move || match auth.get() {
            Auth::Checking => EitherOf3::A(view! {
                <p class="checking" role="status">"Loading…"</p>
            }),
            Auth::SignedOut => EitherOf3::B(view! { <SignIn /> }),
            Auth::SignedIn(session) => EitherOf3::C(view! { <Shell session /> }),
        }}
    }
}
