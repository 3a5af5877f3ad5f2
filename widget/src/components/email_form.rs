//! The one email form of the panel: an address, a button, an error under
//! the field and, once done, what happens next. It asks for a resume link
//! (on a device without the conversation, or after a link that no longer
//! works) or saves the address missed replies go to.

use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::account::{self, Account};
use crate::effect::effect;
use crate::texts::t;

/// What the form's address is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Email a resume link to it.
    ResumeLink,
    /// Email missed replies to it (prefilled with the current address).
    Replies,
}

/// `id`: prefix of the form's element ids and test ids (unique in the
/// page); `button`: the submit button's text; `shown`: the form is visible;
/// `focus`: its field takes the cursor (when the customer asked for the
/// form, not when it offers itself). Checked by our own rules, worded like
/// the rest of the panel (`novalidate`: not the browser's).
#[component]
pub fn EmailForm(
    id: &'static str,
    button: &'static str,
    purpose: Purpose,
    #[prop(into)] shown: Signal<bool>,
    #[prop(into)] focus: Signal<bool>,
) -> impl IntoView {
    let account = expect_context::<Account>();
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<Input>::new();

    effect(move || {
        let (shown, focus) = (shown.get(), focus.get());
        if !shown {
            return;
        }
        request_animation_frame(move || {
            let Some(el) = input.get_untracked() else {
                return;
            };
            if purpose == Purpose::Replies {
                el.set_value(account.email_untracked().as_deref().unwrap_or_default());
                error.set(None);
            }
            if focus {
                _ = el.focus();
            }
        });
    });

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(el) = input.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let result = match purpose {
                Purpose::ResumeLink => account::request_link(el.value()).await.map(Some),
                Purpose::Replies => account.save_email(el.value()).await.map(|()| None),
            };
            match result {
                Ok(sentence) => {
                    error.set(None);
                    done.set(sentence);
                }
                Err(message) => {
                    error.set(Some(message));
                    _ = el.focus();
                }
            }
            busy.set(false);
        });
    };

    view! {
        <form class="email-form" novalidate on:submit=submit>
            <label for=format!("{id}-email")>{t("email.label")}</label>
            <div class="email-row">
                <input
                    node_ref=input
                    id=format!("{id}-email")
                    class="email-input"
                    type="email"
                    autocomplete="email"
                    data-testid=format!("{id}-email")
                    aria-invalid=move || error.with(Option::is_some).then_some("true")
                    aria-describedby=format!("{id}-error")
                />
                <button
                    type="submit"
                    class="button"
                    data-testid=format!("{id}-send")
                    disabled=move || busy.get()
                >
                    {t(button)}
                </button>
            </div>
            <p class="field-error" id=format!("{id}-error") role="alert" data-testid=format!("{id}-error")>
                {move || error.get()}
            </p>
            <p class="form-done" role="status" data-testid=format!("{id}-sent")>
                {move || done.get()}
            </p>
        </form>
    }
}
