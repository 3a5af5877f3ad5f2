//! The panel's title bar.

use leptos::prelude::*;

use crate::messenger::Messenger;
use crate::texts::t;
use crate::{clock, expectations};

/// The title from the host page and, when embedded, a close button
/// (standalone, there is nothing to close the panel into). Below it, over the
/// top of the message list so nothing moves, a line that shows while the
/// stream of new messages is reconnecting; it stays in the page, empty when
/// all is well, so screen readers announce it when it fills.
#[component]
pub fn Header() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let close = (!messenger.bridge.is_standalone()).then(|| {
        view! {
            <button
                type="button"
                class="icon-button"
                aria-label=t("header.close")
                data-testid="close"
                on:click=move |_| messenger.bridge.close()
            >
                <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                    <path d="M6 6l12 12M18 6L6 18" />
                </svg>
            </button>
        }
    });
    // Once there is a conversation, the customer's others are a click away.
    let list = view! {
        <button
            type="button"
            class="header-button"
            data-testid="your-conversations"
            hidden=move || messenger.customer_token().is_none() || messenger.showing_list.get()
            on:click=move |_| messenger.showing_list.set(true)
        >
            {t("header.conversations")}
        </button>
    };
    view! {
        <header class="header">
            <h1 class="title" data-testid="title">
                {move || {
                    let title = messenger.title.get();
                    // The loader's default title is the panel's own text.
                    if title.is_empty() || title == "Messages" { t("panel.title") } else { title }
                }}
            </h1>
            {list}
            {close}
            <p class="expectation" data-testid="expectation">
                {move || {
                    messenger
                        .status
                        .with(|status| {
                            let status = status.as_ref()?;
                            Some(
                                if status.open {
                                    expectations::usually_replies(
                                        i64::from(status.expected_reply_minutes?),
                                    )
                                } else {
                                    let back = status.next_open_at.map(clock::weekday_time_label);
                                    expectations::away_until(back.as_deref())
                                },
                            )
                        })
                }}
            </p>
            <p class="connection-status" role="status" data-testid="connection-status">
                {move || if messenger.reconnecting.get() { t("header.reconnecting") } else { String::new() }}
            </p>
        </header>
    }
}
