//! One message: its bubble, time and, for the customer's own messages, how
//! delivery went.

use leptos::prelude::*;
use messenger_wire::Author;

use crate::clock;
use crate::messenger::Messenger;
use crate::timeline::{Entry, Status};

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
    let speaker = match author {
        Author::Customer => "You",
        Author::Agent => "Support",
        Author::Bot => "Bot",
        Author::System => "Notice",
    };
    let delivery = match (status, refusal, pending_id) {
        (Some(Status::Sending), ..) => Some(view! { <span>"Sending…"</span> }.into_any()),
        (Some(Status::Waiting), ..) => Some(
            view! { <span data-testid="delivery">"Not sent yet: will send when the connection is back"</span> }
                .into_any(),
        ),
        (Some(Status::Seen), ..) => {
            Some(view! { <span class="seen" data-testid="delivery">"Seen"</span> }.into_any())
        }
        (Some(Status::Failed), reason, client_id) => Some(
            view! {
                <span class="failed" data-testid="delivery">
                    "Not sent: "{reason.unwrap_or_else(|| "the server refused it.".to_owned())}
                </span>
                {client_id.map(|client_id| view! {
                    <button
                        type="button"
                        class="retry"
                        data-testid="remove"
                        on:click=move |_| messenger.remove(&client_id)
                    >
                        "Remove"
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
