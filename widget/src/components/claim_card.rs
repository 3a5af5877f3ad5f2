//! After a signed identify on a device that had an anonymous conversation:
//! "Add your earlier conversation to your account?" It is added only when
//! the customer says so, never because of a matching email.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::messenger::Messenger;
use crate::texts::t;

#[component]
pub fn ClaimCard() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let busy = RwSignal::new(false);
    let failed = RwSignal::new(false);
    let add = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failed.set(false);
        spawn_local(async move {
            let result = messenger.claim().await;
            failed.set(result.is_err());
            busy.set(false);
        });
    };
    view! {
        <section
            class="card"
            aria-labelledby="claim-title"
            data-testid="claim-card"
            hidden=move || messenger.claim_offer.with(Option::is_none)
        >
            <h2 class="card-title" id="claim-title">
                {t("claim.title")}
            </h2>
            <p>{t("claim.text")}</p>
            <div class="claim-actions">
                <button
                    type="button"
                    class="button"
                    data-testid="claim-add"
                    disabled=move || busy.get()
                    on:click=add
                >
                    {t("claim.add")}
                </button>
                <button
                    type="button"
                    class="button secondary"
                    data-testid="claim-later"
                    on:click=move |_| messenger.claim_offer.set(None)
                >
                    {t("claim.later")}
                </button>
            </div>
            <p class="field-error" role="alert" data-testid="claim-error">
                {move || failed.get().then(|| t("claim.failed"))}
            </p>
        </section>
    }
}
