//! The signed-in inbox: a header with the agent and sign-out, and the
//! conversations.

use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::InboxSession;

use crate::api;
use crate::components::app::Auth;

#[component]
pub fn Shell(session: InboxSession) -> impl IntoView {
    let auth = expect_context::<RwSignal<Auth>>();
    let csrf = session.csrf_token.clone();
    let sign_out = move |_| {
        let csrf = csrf.clone();
        spawn_local(async move {
            // Signed out on the server or not (it may be gone already), this
            // page forgets the session.
            _ = api::sign_out(&csrf).await;
            auth.set(Auth::SignedOut);
        });
    };
    view! {
        <header class="top">
            <h1 class="brand">"Inbox"</h1>
            <p class="who" data-testid="signed-in-as">
                {session.agent.name.clone()}
                <span class="role">{session.agent.role.as_str()}</span>
            </p>
            <button type="button" class="link" on:click=sign_out data-testid="sign-out">
                "Sign out"
            </button>
        </header>
        <main class="inbox" data-testid="inbox"></main>
    }
}
