//! One message: its bubble, time and, for the customer's own messages, how
//! delivery went.

use leptos::prelude::*;
use messenger_wire::Author;

use crate::clock;
use crate::messenger::Messenger;
use crate::texts::{t, tf};
use crate::timeline::{Entry, Status};

/// The key of the name screen readers read before a message of `author`.
pub fn speaker_key(author: Author) -> &'static str {
    match author {
        Author::Customer => "author.customer",
        Author::Agent => "author.agent",
        Author::Bot => "author.bot",
        Author::System => "author.system",
    }
}

/// `entry`: what to draw; rows are re-created when it changes, so nothing
/// in here needs to be reactive.
#[component]
pub fn MessageItem(entry: Entry) -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let Entry {
        author,
        body,
        created_at,
        status,
        refusal,
        pending_id,
        ..
    } = entry;
    // Read before the message by screen readers, which cannot see sides.
    let speaker = t(speaker_key(author));
    let delivery = match (status, refusal, pending_id) {
        (Some(Status::Sending), ..) => Some(view! { <span>{t("delivery.sending")}</span> }.into_any()),
        (Some(Status::Waiting), ..) => Some(
            view! { <span data-testid="delivery">{t("delivery.waiting")}</span> }
                .into_any(),
        ),
        (Some(Status::Seen), ..) => {
            Some(view! { <span class="seen" data-testid="delivery">{t("delivery.seen")}</span> }.into_any())
        }
        (Some(Status::Failed), reason, client_id) => Some(
            view! {
                <span class="failed" data-testid="delivery">
                    {tf("delivery.failed", &[("reason", &reason.unwrap_or_else(|| t("delivery.refused")))])}
                </span>
                {client_id.map(|client_id| view! {
                    <button
                        type="button"
                        class="retry"
                        data-testid="remove"
                        on:click=move |_| messenger.remove(&client_id)
                    >
                        {t("delivery.remove")}
                    </button>
                })}
            }
            .into_any(),
        ),
        _ => None,
    };
    view! {
        <div
            class="message"
            data-testid="message"
            data-author=author.as_str()
            data-status=status.map(Status::as_str)
        >
            <span class="visually-hidden">{speaker}": "</span>
            <p class="body" data-testid="message-body">{body}</p>
            <p class="meta">
                <span class="time">{clock::time_label(created_at)}</span>
                {delivery}
            </p>
        </div>
    }
}
