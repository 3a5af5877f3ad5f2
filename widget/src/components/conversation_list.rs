//! "Your conversations": every conversation of the customer, latest
//! activity first, from any device; choosing one shows it, and "New
//! conversation" starts another.

use leptos::html::H2;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::{ConversationStatus, CustomerConversation};

use crate::account::{self, Account, Loaded};
use crate::api;
use crate::clock;
use crate::effect::effect;
use crate::messenger::Messenger;
use crate::texts::t;

#[component]
pub fn ConversationList() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let account = expect_context::<Account>();
    let heading = NodeRef::<H2>::new();
    let failed = RwSignal::new(false);
    // Messages not sent yet belong to the conversation shown: switching
    // away would send them to another one, so it waits until they are sent.
    let unsent = RwSignal::new(false);
    let has_unsent = move || {
        let waiting = messenger
            .timeline
            .with_untracked(|t| !t.pending().is_empty());
        unsent.set(waiting);
        waiting
    };
    // Opening the list loads it afresh and moves the focus to its heading,
    // so screen readers start reading there.
    effect(move || {
        if messenger.showing_list.get() {
            failed.set(false);
            unsent.set(false);
            account.load();
            request_animation_frame(move || {
                if let Some(el) = heading.get_untracked() {
                    _ = el.focus();
                }
            });
        }
    });

    let back = move |_| messenger.showing_list.set(false);
    let new_conversation = move |_| {
        if has_unsent() {
            return;
        }
        messenger.start_new_conversation();
        messenger.showing_list.set(false);
    };
    let choose = move |id: String, current: bool| {
        failed.set(false);
        if current {
            messenger.showing_list.set(false);
            return;
        }
        if has_unsent() {
            return;
        }
        let Some(token) = messenger.customer_token_untracked() else {
            return;
        };
        spawn_local(async move {
            match api::conversation_token(&token, &id).await {
                Ok(started) => {
                    messenger.switch_to(&started);
                    messenger.showing_list.set(false);
                }
                Err(_) => failed.set(true),
            }
        });
    };

    let notice = move || match account.state.get() {
        Loaded::Not | Loaded::Loading => t("list.loading"),
        Loaded::Failed => t("list.failed"),
        Loaded::Done(_) if unsent.get() => t("list.unsent"),
        Loaded::Done(_) if failed.get() => t("list.open_failed"),
        Loaded::Done(_) => String::new(),
    };
    let rows = move || {
        let conversations = account.get().map(|a| a.conversations).unwrap_or_default();
        conversations
            .into_iter()
            .map(|item| {
                let current = is_current(messenger, &item);
                row(item, current, choose)
            })
            .collect_view()
    };

    view! {
        <section
            class="list-view"
            aria-labelledby="list-title"
            data-testid="conversation-list"
            hidden=move || !messenger.showing_list.get()
        >
            <div class="list-bar">
                <button type="button" class="link-button" data-testid="list-back" on:click=back>
                    {t("list.back")}
                </button>
                <h2 class="list-title" id="list-title" tabindex="-1" node_ref=heading>
                    {t("list.title")}
                </h2>
            </div>
            <button
                type="button"
                class="button new-conversation"
                data-testid="new-conversation"
                on:click=new_conversation
            >
                {t("list.new")}
            </button>
            <p class="notice history-notice" role="status">
                {notice}
                " "
                <button
                    type="button"
                    class="link-button"
                    hidden=move || account.state.with(|s| *s != Loaded::Failed)
                    on:click=move |_| account.load()
                >
                    {t("list.retry")}
                </button>
            </p>
            <ul class="conversations list-scroller" data-testid="conversations">
                {rows}
            </ul>
        </section>
    }
}

/// Whether `item` is the conversation shown (not a draft of a new one).
fn is_current(messenger: Messenger, item: &CustomerConversation) -> bool {
    !messenger.is_draft() && messenger.showing_conversation(&item.conversation.id)
}

/// One conversation: what was said last, when, and whether it is closed
/// or has unread replies. (Drawn afresh with the list: nothing reactive.)
fn row(
    item: CustomerConversation,
    current: bool,
    choose: impl Fn(String, bool) + Copy + 'static,
) -> impl IntoView {
    let CustomerConversation {
        conversation,
        last_message,
        unread,
    } = item;
    let preview = last_message
        .as_ref()
        .map_or_else(|| t("list.no_messages"), |m| m.body.clone());
    let at = last_message
        .as_ref()
        .map_or(conversation.last_activity_at, |m| m.created_at);
    let when = if clock::day_key(at) == clock::day_key(clock::now_ms()) {
        clock::time_label(at)
    } else {
        clock::day_label(at)
    };
    let closed = conversation.status == ConversationStatus::Closed;
    let unread = (unread > 0).then(|| account::unread_label(unread));
    let no_unread = unread.is_none();
    let id = conversation.id;
    view! {
        <li>
            <button
                type="button"
                class="conversation"
                data-testid="conversation-item"
                data-conversation=id.clone()
                data-closed=closed.then_some("true")
                aria-current=current.then_some("true")
                on:click=move |_| choose(id.clone(), current)
            >
                <span class="conversation-preview" data-testid="conversation-preview">
                    {preview}
                </span>
                <span class="conversation-meta">
                    <span data-testid="conversation-date">{when}</span>
                    <span class="mark" data-testid="closed-mark" hidden=!closed>
                        {t("list.closed")}
                    </span>
                    <span class="mark unread" data-testid="unread-count" hidden=no_unread>
                        {unread}
                    </span>
                    <span class="visually-hidden" hidden=!current>
                        {t("list.current")}
                    </span>
                </span>
            </button>
        </li>
    }
}
