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
    claim_card::ClaimCard,
    day_separator::DaySeparator,
    email_form::{EmailForm, Purpose},
    email_invitation::EmailInvitation,
    message_item::MessageItem,
    resume_notice::ResumeNotice,
};
use crate::effect::effect;
use crate::messenger::{History, Messenger};
use crate::texts::t;
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

    effect(move || {
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
                        t(if messenger.loading_earlier.get() {
                            "history.earlier_loading"
                        } else {
                            "history.earlier"
                        })
                    }}
                </button>
            }
        })
    };
    let earlier_failed = move || {
        messenger.earlier_failed.get().then(|| {
            view! {
                <p class="notice" role="status">
                    {t("history.earlier_failed")}
                </p>
            }
        })
    };

    // The empty state and the loading notices stay in the page, hidden when
    // not wanted (built once; the notice is a live region that changes).
    let nothing_yet = move || messenger.ready.get() && messenger.timeline.with(Timeline::is_empty);
    let history_notice = move || {
        if !nothing_yet() {
            return String::new();
        }
        match messenger.history.get() {
            History::Loaded => String::new(),
            History::Loading => t("history.loading"),
            History::Failed => t("history.failed"),
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
                        .or_else(|| messenger.greeting.get())
                        .unwrap_or_else(|| t("empty.greeting"))
                }}
            </p>
            <p>{t("empty.hint")}</p>
            <ContinueEarlier />
        </div>
        <p class="notice history-notice" role="status">
            {history_notice}
        </p>
    };

    view! {
        <div class="scroller" node_ref=scroller on:scroll=on_scroll>
            <ResumeNotice />
            <ClaimCard />
            {earlier}
            {earlier_failed}
            {placeholder}
            // Not a live region itself: pages of history are not news. New
            // messages from the team are read out by the announcer below.
            <section
                class="log"
                aria-label=t("messages.label")
                data-testid="message-list"
            >
                <For each=move || rows.get() key=|row| row.clone() let:row>
                    {match row {
                        Row::Day { label, .. } => Either::Left(view! { <DaySeparator label /> }),
                        Row::Message(entry) => Either::Right(view! { <MessageItem entry /> }),
                    }}
                </For>
            </section>
            <p class="visually-hidden" aria-live="polite" data-testid="announcer">
                {move || messenger.announcement.get()}
            </p>
            <p class="typing" data-testid="typing" hidden=move || !messenger.agent_typing.get()>
                <span class="dots" aria-hidden="true">
                    <span></span>
                    <span></span>
                    <span></span>
                </span>
                {t("typing.agent")}
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
            {t("continue.button")}
        </button>
        <div class="continue" data-testid="continue-earlier-form" hidden=move || !shown.get()>
            <p>{t("continue.text")}</p>
            <EmailForm id="resume-link" button="continue.send" purpose=Purpose::ResumeLink shown focus=shown />
        </div>
    }
}
