//! The open conversation: its header (customer, status, assignee and the
//! actions on them), the history with internal notes among the messages,
//! the composer (reply, or note), and the customer panel.

use leptos::either::Either;
use leptos::html::Textarea;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::{
    Author, ConversationStatus, CustomerProfile, InboxConversationView, MAX_MESSAGE_CHARS, Message,
    Note, validate_body,
};

use crate::components::list::customer_label;
use crate::components::time;
use crate::state::Inbox;

/// One line of the history: a message, or a note among them by time.
#[derive(Clone, PartialEq, Eq)]
enum Item {
    Message(Message),
    Note(Note),
}

impl Item {
    /// Messages and notes never change once stored: their id is the row's.
    fn key(&self) -> String {
        match self {
            Item::Message(m) => m.id.clone(),
            Item::Note(n) => n.id.clone(),
        }
    }
}

fn items(view: &InboxConversationView) -> Vec<Item> {
    let mut items: Vec<(i64, Item)> = view
        .messages
        .iter()
        .map(|m| (m.created_at, Item::Message(m.clone())))
        .chain(
            view.notes
                .iter()
                .map(|n| (n.created_at, Item::Note(n.clone()))),
        )
        .collect();
    items.sort_by_key(|(at, _)| *at);
    items.into_iter().map(|(_, item)| item).collect()
}

#[component]
pub fn ConversationView(composer: NodeRef<Textarea>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    // The view is built once per conversation; live updates change its
    // parts in place, so the composer keeps what is being typed and the
    // history keeps its scroll position.
    let open_id = Memo::new(move |_| {
        inbox
            .view
            .with(|v| v.as_ref().map(|v| v.conversation.id.clone()))
    });
    move || match open_id.get() {
        None => Either::Left(view! {
            <section class="view empty-view" aria-label="Conversation">
                <p>
                    {move || {
                        if inbox.selected.with(Option::is_some) {
                            "Loading…"
                        } else {
                            "Pick a conversation. Press ? for the keyboard shortcuts."
                        }
                    }}
                </p>
            </section>
        }),
        Some(_) => Either::Right(view! { <Open composer /> }),
    }
}

/// How close to the bottom (px) still counts as reading the latest.
const STICK_PX: i32 = 48;
/// How close to the top (px) loads the page before.
const EARLIER_PX: i32 = 40;

#[component]
fn Open(composer: NodeRef<Textarea>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let history = Memo::new(move |_| {
        inbox
            .view
            .with(|v| v.as_ref().map(items).unwrap_or_default())
    });
    let has_earlier = Memo::new(move |_| {
        inbox
            .view
            .with(|v| v.as_ref().is_some_and(|v| v.older_cursor.is_some()))
    });
    let scroller = NodeRef::<leptos::html::Div>::new();
    let stick = StoredValue::new(true);
    let loading_earlier = StoredValue::new(false);

    // New lines: follow them while the agent is at the bottom.
    Effect::new(move |_| {
        history.track();
        if stick.get_value() {
            request_animation_frame(move || {
                if let Some(el) = scroller.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });
    let load_earlier = move || {
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        if loading_earlier.get_value() || !has_earlier.get_untracked() {
            return;
        }
        loading_earlier.set_value(true);
        // Keep the lines in view where they are once earlier ones come in
        // above them.
        let from_bottom = el.scroll_height() - el.scroll_top();
        spawn_local(async move {
            inbox.load_earlier().await;
            request_animation_frame(move || {
                el.set_scroll_top(el.scroll_height() - from_bottom);
                loading_earlier.set_value(false);
            });
        });
    };
    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            stick.set_value(el.scroll_height() - el.scroll_top() - el.client_height() <= STICK_PX);
            if el.scroll_top() <= EARLIER_PX {
                load_earlier();
            }
        }
    };

    view! {
        <section class="view" aria-labelledby="view-title" data-testid="conversation-view">
            {move || {
                let many = inbox.many_sites();
                inbox.view.with(|v| v.as_ref().map(|v| view! { <Head view=v.clone() many /> }))
            }}
            {crate::components::settings::error_line(inbox.view_error)}
            <div
                class="history"
                role="log"
                aria-label="History"
                data-testid="history"
                node_ref=scroller
                on:scroll=on_scroll
            >
                {move || {
                    has_earlier
                        .get()
                        .then(|| {
                            view! {
                                <button
                                    type="button"
                                    class="earlier"
                                    on:click=move |_| load_earlier()
                                    data-testid="load-earlier"
                                >
                                    "Show earlier messages"
                                </button>
                            }
                        })
                }}
                <For each=move || history.get() key=Item::key let:item>
                    <HistoryItem item />
                </For>
            </div>
            <Composer composer />
            {move || {
                inbox
                    .view
                    .with(|v| {
                        v.as_ref().map(|v| view! { <CustomerPanel customer=v.customer.clone() /> })
                    })
            }}
        </section>
    }
}

/// The conversation's title, status and assignee, with the actions on them.
#[component]
fn Head(view: InboxConversationView, many: bool) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let conversation = view.conversation;
    let closed = conversation.status == ConversationStatus::Closed;
    let mine = conversation
        .assignee
        .as_ref()
        .is_some_and(|a| a.id == inbox.agent_id());
    let assignee = conversation.assignee.as_ref().map_or_else(
        || "Unassigned".to_owned(),
        |a| format!("Assigned to {}", a.name),
    );
    let toggle_status = move |_| {
        spawn_local(inbox.set_status(if closed { "reopen" } else { "close" }));
    };
    let me = inbox.agent_id();
    let toggle_assign = {
        let me = me.clone();
        move |_| spawn_local(inbox.assign((!mine).then(|| me.clone())))
    };
    let assign_other = move |event: leptos::ev::Event| {
        let agent = event_target_value(&event);
        if !agent.is_empty() {
            spawn_local(inbox.assign(Some(agent)));
        }
    };
    let current = conversation.assignee.as_ref().map(|a| a.id.clone());
    let site = conversation.site.name.clone();
    let others = move || {
        inbox
            .team
            .get()
            .into_iter()
            .filter(|a| a.id != me && Some(&a.id) != current.as_ref())
            .map(|a| view! { <option value=a.id>{a.name}</option> })
            .collect_view()
    };
    view! {
        <header class="view-head">
            <h2 id="view-title">{customer_label(&conversation)}</h2>
            {many
                .then(|| {
                    view! {
                        <span class="site" data-testid="view-site">
                            <span class="visually-hidden">"Site: "</span>
                            {site}
                        </span>
                    }
                })}
            <span class="status" data-testid="view-status">
                {conversation.status.as_str()}
            </span>
            <span class="assignee" data-testid="view-assignee">{assignee}</span>
            <button type="button" on:click=toggle_assign data-testid="assign-toggle">
                {if mine { "Unassign" } else { "Assign to me" }}
            </button>
            <label class="visually-hidden" for="assign-other">"Assign to another agent"</label>
            <select id="assign-other" on:change=assign_other data-testid="assign-other">
                <option value="">"Assign to…"</option>
                {others}
            </select>
            <button type="button" on:click=toggle_status data-testid="status-toggle" aria-keyshortcuts="c">
                {if closed { "Reopen" } else { "Close" }}
            </button>
        </header>
    }
}

#[component]
fn CustomerPanel(customer: CustomerProfile) -> impl IntoView {
    view! {
        <aside class="customer-panel" aria-label="Customer">
            <h3>"Customer"</h3>
            <dl>
                <dt>"Name"</dt>
                <dd>{customer.name.unwrap_or_else(|| "Not given".to_owned())}</dd>
                <dt>"Email"</dt>
                <dd>{customer.email.unwrap_or_else(|| "Not given".to_owned())}</dd>
                <dt>"First seen"</dt>
                <dd>{time::stamp(customer.first_seen)}</dd>
                <dt>"Started on"</dt>
                <dd class="url">{customer.page_url.unwrap_or_else(|| "Unknown".to_owned())}</dd>
                <dt>"Language"</dt>
                <dd>{customer.language.unwrap_or_else(|| "Unknown".to_owned())}</dd>
                <dt>"Browser"</dt>
                <dd class="ua">{customer.user_agent.unwrap_or_else(|| "Unknown".to_owned())}</dd>
            </dl>
            <h4>"Past conversations"</h4>
            {if customer.past_conversations.is_empty() {
                view! { <p class="none">"None"</p> }.into_any()
            } else {
                let inbox = expect_context::<Inbox>();
                view! {
                    <ul class="past">
                        {customer
                            .past_conversations
                            .into_iter()
                            .map(|past| {
                                let id = past.id.clone();
                                let status = match past.status {
                                    ConversationStatus::Open => "Open",
                                    ConversationStatus::Closed => "Closed",
                                };
                                view! {
                                    <li>
                                        <button type="button" on:click=move |_| inbox.select(id.clone())>
                                            {time::stamp(past.created_at)}
                                            " · "
                                            {status}
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </aside>
    }
}

#[component]
fn HistoryItem(item: Item) -> impl IntoView {
    match item {
        Item::Message(message) => {
            let who = match message.author {
                Author::Customer => "Customer",
                Author::Agent => "Agent",
                Author::Bot => "Bot",
                Author::System => "Notice",
            };
            Either::Left(view! {
                <article
                    class="item message"
                    data-testid="history-message"
                    data-author=message.author.as_str()
                >
                    <p class="meta">{who}" · "{time::stamp(message.created_at)}</p>
                    <p class="body">{message.body}</p>
                </article>
            })
        }
        Item::Note(note) => Either::Right(view! {
            <article class="item note" data-testid="history-note">
                <p class="meta">
                    "Internal note by "{note.agent.name}" · "{time::stamp(note.created_at)}
                </p>
                <p class="body">{note.body}</p>
            </article>
        }),
    }
}

#[component]
fn Composer(composer: NodeRef<Textarea>) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let text = RwSignal::new(String::new());
    let note = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move || {
        let body = text.get_untracked();
        if let Err(code) = validate_body(&body) {
            if matches!(code, messenger_wire::ErrorCode::MessageTooLong) {
                error.set(Some(format!(
                    "Too long: keep it under {MAX_MESSAGE_CHARS} characters."
                )));
            }
            return;
        }
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match inbox.send(body, note.get_untracked()).await {
                Ok(()) => {
                    text.set(String::new());
                    error.set(None);
                }
                Err(message) => error.set(Some(message)),
            }
            busy.set(false);
        });
    };
    let on_keydown = move |event: leptos::ev::KeyboardEvent| {
        if event.key() == "Enter" && (event.ctrl_key() || event.meta_key()) {
            event.prevent_default();
            submit();
        }
    };
    view! {
        <form
            class="composer"
            class:note-mode=move || note.get()
            on:submit=move |event| {
                event.prevent_default();
                submit();
            }
        >
            <div class="modes" role="group" aria-label="Write">
                <button
                    type="button"
                    aria-pressed=move || (!note.get()).to_string()
                    on:click=move |_| note.set(false)
                    data-testid="mode-reply"
                >
                    "Reply"
                </button>
                <button
                    type="button"
                    aria-pressed=move || note.get().to_string()
                    on:click=move |_| note.set(true)
                    data-testid="mode-note"
                >
                    "Internal note"
                </button>
            </div>
            <label class="visually-hidden" for="composer">
                {move || if note.get() { "Internal note" } else { "Reply" }}
            </label>
            <textarea
                id="composer"
                node_ref=composer
                rows="3"
                bind:value=text
                on:keydown=on_keydown
                placeholder=move || {
                    if note.get() {
                        "Only agents see notes. Ctrl+Enter to add."
                    } else {
                        "Reply to the customer. Ctrl+Enter to send."
                    }
                }
                data-testid="composer"
            ></textarea>
            {crate::components::settings::error_line(error)}
            <button type="submit" disabled=move || busy.get() data-testid="composer-send">
                {move || if note.get() { "Add note" } else { "Send" }}
            </button>
        </form>
    }
}
