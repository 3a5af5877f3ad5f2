//! The sign-in form: email and password, with the server's answer shown
//! under it (wrong credentials, too many attempts, no connection).

use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ForAgent as _};
use crate::components::app::Auth;

#[component]
pub fn SignIn() -> impl IntoView {
    let auth = expect_context::<RwSignal<Auth>>();
    let email = NodeRef::<Input>::new();
    let password = NodeRef::<Input>::new();
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let (Some(email), Some(password)) = (email.get_untracked(), password.get_untracked())
        else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (email_value, password_value) = (email.value(), password.value());
        spawn_local(async move {
            let result = api::sign_in(email_value.trim(), &password_value).await;
            busy.set(false);
            match result {
                Ok(session) => auth.set(Auth::SignedIn(session)),
                Err(e) => {
                    password.set_value("");
                    error.set(Some(e.message()));
                    _ = password.focus();
                }
            }
        });
    };

    view! {
        <main class="sign-in">
            <form class="card" on:submit=submit aria-describedby="sign-in-error">
                <h1>"Sign in to the inbox"</h1>
                <label for="email">"Email"</label>
                <input
                    node_ref=email
                    id="email"
                    name="email"
                    type="email"
                    autocomplete="username"
                    required
                    autofocus
                    data-testid="sign-in-email"
                />
                <label for="password">"Password"</label>
                <input
                    node_ref=password
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    data-testid="sign-in-password"
                />
                <p class="error" id="sign-in-error" role="alert" data-testid="sign-in-error">
                    {move || error.get()}
                </p>
                <button type="submit" disabled=move || busy.get() data-testid="sign-in-submit">
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
