//! The small card that offers to email replies the customer misses, shown
//! once they have written and as long as no address is known; and, once
//! one is, the line that says where replies go, with a way to change it.

use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::account::{self, Account};
use crate::messenger::Messenger;
use crate::timeline::Timeline;

#[component]
pub fn EmailInvitation() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let account = expect_context::<Account>();
    // The customer asked to change the address.
    let changing = RwSignal::new(false);
    // Decided apart from drawing, so a new message does not redraw the card
    // (and lose what is typed in it).
    let mode = Memo::new(move |_| {
        let written =
            messenger.has_conversation() && messenger.timeline.with(Timeline::customer_has_written);
        if !written {
            return Mode::Hidden;
        }
        let Some(known) = account.get() else {
            return Mode::Hidden;
        };
        match known.email {
            Some(email) if !changing.get() => Mode::Line(email),
            Some(email) => Mode::Card(Some(email)),
            None if account.invitation_dismissed.get() => Mode::Hidden,
            None => Mode::Card(None),
        }
    });
    move || match mode.get() {
        Mode::Hidden => None,
        Mode::Line(email) => Some(
            view! {
                <p class="email-line" role="status" data-testid="email-line">
                    {account::emailing_to(&email)}
                    " "
                    <button
                        type="button"
                        class="link-button"
                        data-testid="email-change"
                        on:click=move |_| changing.set(true)
                    >
                        "Change"
                    </button>
                </p>
            }
            .into_any(),
        ),
        Mode::Card(current) => Some(view! { <EmailCard current changing /> }.into_any()),
    }
}

#[derive(Clone, PartialEq, Eq)]
enum Mode {
    Hidden,
    /// Where replies go.
    Line(String),
    /// The form: to leave an address, or to change this one.
    Card(Option<String>),
}

/// The form itself; `current`: the address to change, if any.
#[component]
fn EmailCard(current: Option<String>, changing: RwSignal<bool>) -> impl IntoView {
    let account = expect_context::<Account>();
    let editing = current.is_some();
    let email = RwSignal::new(current.unwrap_or_default());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<Input>::new();
    if editing {
        Effect::new(move |_| {
            if let Some(el) = input.get() {
                _ = el.focus();
            }
        });
    }

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let address = email.get_untracked();
        if let Err(message) = account::check_email(&address) {
            error.set(Some(message));
            if let Some(el) = input.get_untracked() {
                _ = el.focus();
            }
            return;
        }
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            match account.save_email(address).await {
                Ok(()) => changing.set(false),
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    let close = move |_| {
        if editing {
            changing.set(false);
        } else {
            account.invitation_dismissed.set(true);
        }
    };

    view! {
        <section class="card" aria-labelledby="email-card-title" data-testid="email-card">
            <button
                type="button"
                class="card-close"
                aria-label=if editing { "Cancel" } else { "Dismiss" }
                data-testid="email-card-dismiss"
                on:click=close
            >
                "×"
            </button>
            <h2 class="card-title" id="email-card-title">
                "Get replies by email"
            </h2>
            <p>"If you leave, we'll email you our reply. Optional."</p>
            <form class="email-form" novalidate on:submit=submit>
                <label for="invite-email">"Your email"</label>
                <div class="email-row">
                    <input
                        node_ref=input
                        id="invite-email"
                        class="email-input"
                        type="email"
                        autocomplete="email"
                        data-testid="email-input"
                        aria-invalid=move || error.with(Option::is_some).then_some("true")
                        aria-describedby="invite-email-error"
                        bind:value=email
                    />
                    <button
                        type="submit"
                        class="button"
                        data-testid="email-save"
                        disabled=move || busy.get()
                    >
                        "Save"
                    </button>
                </div>
                <p
                    class="field-error"
                    id="invite-email-error"
                    role="alert"
                    data-testid="email-error"
                >
                    {move || error.get()}
                </p>
            </form>
        </section>
    }
}
