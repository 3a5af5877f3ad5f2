//! The scrolling list of messages, with day separators, the button that
//! pages back through history, what to show when there is nothing yet, and
//! whether an agent is typing. (The typing line is not announced to screen
//! readers: it comes and goes every few seconds; the reply is announced.)

use leptos::either::Either;
use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::Author;

use crate::clock;
use crate::components::{
    day_separator::DaySeparator,
    email_form::{EmailForm, Purpose},
    email_invitation::EmailInvitation,
    message_item::MessageItem,
    resume_notice::ResumeNotice,
};
use crate::messenger::{History, Messenger};
use crate::timeline::{Entry, Status, Timeline};

/// How close to the bottom (px) still counts as "reading the latest".
const STICK_THRESHOLD: i32 = 48;

#[derive(Clone, PartialEq, Eq, Hash)]
enum Row {
    Day { day: u32, label: String },
    Message(Entry),
}

/// Interleaves a separator before each day's first message.
fn with_day_separators(entries: Vec<Entry>) -> Vec<Row> {
    let mut rows = Vec::with_capacity(entries.len() + 4);
    let mut current_day = None;
    for entry in entries {
        let day = clock::day_key(entry.created_at);
        if current_day != Some(day) {
            current_day = Some(day);
            let label = clock::day_label(entry.created_at);
            rows.push(Row::Day { day, label });
        }
        rows.push(Row::Message(entry));
    }
    rows
}

#[component]
pub fn MessageList() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let scroller = NodeRef::<Div>::new();
    // Follow new messages only while the customer is at the bottom, so
    // reading older ones is not interrupted.
    let stick = StoredValue::new(true);
    let rows = Memo::new(move |_| {
        messenger
            .timeline
            .with(|t| with_day_separators(t.entries()))
    });
    let last = Memo::new(move |_| {
        rows.with(|rows| match rows.last() {
            Some(Row::Message(entry)) => Some(entry.clone()),
            _ => None,
        })
    });

    Effect::new(move |_| {
        let own_new = last.with(|last| {
            last.as_ref().is_some_and(|e| {
                e.author == Author::Customer
                    && matches!(e.status, Some(Status::Sending | Status::Waiting))
            })
        });
        // Opening the panel lays it out again; scroll once it is visible.
        let open = messenger.open.get();
        messenger.agent_typing.track();
        if own_new {
            stick.set_value(true);
        }
        if open && stick.get_value() {
            request_animation_frame(move || {
                if let Some(el) = scroller.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });

    let on_scroll = move |_| {
        if let Some(el) = scroller.get_untracked() {
            let from_bottom = el.scroll_height() - el.scroll_top() - el.client_height();
            stick.set_value(from_bottom <= STICK_THRESHOLD);
        }
    };

    let load_earlier = move |_| {
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        // Keep the messages in view where they are once older ones are
        // added above them.
        let from_bottom = el.scroll_height() - el.scroll_top();
        spawn_local(async move {
            messenger.load_earlier().await;
            request_animation_frame(move || {
                el.set_scroll_top(el.scroll_height() - from_bottom);
            });
        });
    };

    let earlier = move || {
        messenger.older_cursor.with(Option::is_some).then(|| {
            view! {
                <button
                    type="button"
                    class="earlier"
                    data-testid="load-earlier"
                    disabled=move || messenger.loading_earlier.get()
                    on:click=load_earlier
                >
                    {move || {
                        if messenger.loading_earlier.get() {
                            "Loading…"
                        } else {
                            "Show earlier messages"
                        }
                    }}
                </button>
            }
        })
    };
    let earlier_failed = move || {
        messenger.earlier_failed.get().then(|| {
            view! {
                <p class="notice" role="status">
                    "Earlier messages could not be loaded. Please try again."
                </p>
            }
        })
    };

    // The empty state and the loading notices stay in the page, hidden when
    // not wanted (built once; the notice is a live region that changes).
    let nothing_yet = move || messenger.ready.get() && messenger.timeline.with(Timeline::is_empty);
    let history_notice = move || {
        if !nothing_yet() {
            return "";
        }
        match messenger.history.get() {
            History::Loaded => "",
            History::Loading => "Loading messages…",
            History::Failed => "Messages could not be loaded. Trying again…",
        }
    };
    let placeholder = view! {
        <div
            class="empty"
            data-testid="empty-state"
            hidden=move || !(nothing_yet() && messenger.history.get() == History::Loaded)
        >
            <p class="empty-title" data-testid="greeting">
                {move || {
                    messenger
                        .status
                        .with(|s| s.as_ref().and_then(|s| s.greeting.clone()))
                        .unwrap_or_else(|| "Questions? We're here to help.".to_owned())
                }}
            </p>
            <p>"Write us a message below and we'll reply right here."</p>
            <ContinueEarlier />
        </div>
        <p class="notice history-notice" role="status">
            {history_notice}
        </p>
    };

    view! {
        <div class="scroller" node_ref=scroller on:scroll=on_scroll>
            <ResumeNotice />
            {earlier}
            {earlier_failed}
            {placeholder}
            <div
                class="log"
                role="log"
                aria-live="polite"
                aria-label="Messages"
                // Pages of history are not news: keep screen readers from
                // reading them out as they arrive.
                aria-busy=move || {
                    let busy = messenger.history.get() == History::Loading
                        || messenger.loading_earlier.get();
                    busy.then_some("true")
                }
                data-testid="message-list"
            >
                <For each=move || rows.get() key=|row| row.clone() let:row>
                    {match row {
                        Row::Day { label, .. } => Either::Left(view! { <DaySeparator label /> }),
                        Row::Message(entry) => Either::Right(view! { <MessageItem entry /> }),
                    }}
                </For>
            </div>
            <p class="typing" data-testid="typing" hidden=move || !messenger.agent_typing.get()>
                <span class="dots" aria-hidden="true">
                    <span></span>
                    <span></span>
                    <span></span>
                </span>
                "Support is typing…"
            </p>
            <EmailInvitation />
        </div>
    }
}

/// On a device without the conversation, a discreet way back to an earlier
/// one: a link by email.
#[component]
fn ContinueEarlier() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let asking = RwSignal::new(false);
    // Only without any conversation here: not for a new conversation of a
    // known customer, nor next to a resume link's own offer.
    let offered = move || {
        messenger.customer_token().is_none() && messenger.resume_problem.with(Option::is_none)
    };
    let shown = Signal::derive(move || offered() && asking.get());
    view! {
        <button
            type="button"
            class="link-button"
            data-testid="continue-earlier"
            hidden=move || !offered() || asking.get()
            on:click=move |_| asking.set(true)
        >
            "Continue an earlier conversation"
        </button>
        <div class="continue" data-testid="continue-earlier-form" hidden=move || !shown.get()>
            <p>"We'll email you a link that opens your conversations here."</p>
            <EmailForm id="resume-link" button="Send me a link" purpose=Purpose::ResumeLink shown focus=shown />
        </div>
    }
}
