//! The small card that offers to email replies the customer misses, shown
//! once they have written and as long as no address is known; and, once
//! one is, the line that says where replies go, with a way to change it.
//! Both stay in the page, hidden when not wanted: built once.

use leptos::prelude::*;

use crate::account::{self, Account};
use crate::components::email_form::{EmailForm, Purpose};
use crate::effect::effect;
use crate::messenger::Messenger;
use crate::texts::t;
use crate::timeline::Timeline;

#[component]
pub fn EmailInvitation() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let account = expect_context::<Account>();
    // The customer asked to change the address.
    let changing = RwSignal::new(false);
    let email = Memo::new(move |_| account.get().and_then(|a| a.email));
    // A saved address ends a change.
    effect(move || {
        email.track();
        changing.set(false);
    });
    let written = move || {
        messenger.has_conversation() && messenger.timeline.with(Timeline::customer_has_written)
    };
    let line = move || {
        let email = email.get().filter(|_| written() && !changing.get());
        email.map(|e| account::emailing_to(&e))
    };
    let card = Signal::derive(move || {
        written()
            && match account.get() {
                Some(known) if known.email.is_some() => changing.get(),
                Some(_) => !account.invitation_dismissed.get(),
                None => false,
            }
    });
    let close = move |_| {
        if changing.get_untracked() {
            changing.set(false);
        } else {
            account.dismiss_invitation();
        }
    };

    view! {
        <p class="email-line" role="status" data-testid="email-line" hidden=move || line().is_none()>
            {line}
            " "
            <button type="button" class="link-button" data-testid="email-change" on:click=move |_| changing.set(true)>
                {t("email.change")}
            </button>
        </p>
        <section
            class="card"
            aria-labelledby="email-card-title"
            data-testid="email-card"
            hidden=move || !card.get()
        >
            <button
                type="button"
                class="card-close"
                aria-label=move || t(if changing.get() { "card.cancel" } else { "card.dismiss" })
                data-testid="email-card-dismiss"
                on:click=close
            >
                "×"
            </button>
            <h2 class="card-title" id="email-card-title">
                {t("email.card_title")}
            </h2>
            <p>{t("email.card_text")}</p>
            <EmailForm id="invite" button="email.save" purpose=Purpose::Replies shown=card focus=changing />
        </section>
    }
}
