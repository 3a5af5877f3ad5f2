//! "Email me a link": the form that asks for a resume link, on a device
//! without the conversation or after a link that no longer works.

use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::account;

/// `id`: prefix of the form's element ids (unique in the page);
/// `button`: the submit button's text.
#[component]
pub fn ResumeLinkForm(id: &'static str, button: &'static str) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let sent = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<Input>::new();
    let input_id = format!("{id}-email");
    let error_id = format!("{id}-error");

    // The field is there to be filled: put the cursor in it.
    Effect::new(move |_| {
        if let Some(el) = input.get() {
            _ = el.focus();
        }
    });

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let address = email.get_untracked();
        if let Err(message) = account::check_email(&address) {
            error.set(Some(message));
            return;
        }
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match account::request_link(address).await {
                Ok(sentence) => sent.set(Some(sentence)),
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };

    view! {
        // Checked by our own rules, worded like the rest of the panel.
        <form class="email-form" novalidate on:submit=submit data-testid=format!("{id}-form")>
            <label for=input_id.clone()>"Your email"</label>
            <div class="email-row">
                <input
                    node_ref=input
                    id=input_id
                    class="email-input"
                    type="email"
                    autocomplete="email"
                    data-testid=format!("{id}-email")
                    aria-invalid=move || error.with(Option::is_some).then_some("true")
                    aria-describedby=error_id.clone()
                    bind:value=email
                />
                <button
                    type="submit"
                    class="button"
                    data-testid=format!("{id}-send")
                    disabled=move || busy.get()
                >
                    {button}
                </button>
            </div>
            <p class="field-error" id=error_id role="alert" data-testid=format!("{id}-error")>
                {move || error.get()}
            </p>
            <p class="form-done" role="status" data-testid=format!("{id}-sent")>
                {move || sent.get()}
            </p>
        </form>
    }
}
