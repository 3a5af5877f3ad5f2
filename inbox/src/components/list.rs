//! The conversation list: filters, search, and one row per conversation,
//! those waiting on us first, the longest wait first.

use leptos::prelude::*;
use messenger_wire::{ConversationStatus, InboxConversation};

use crate::components::time;
use crate::state::Inbox;

/// The status filters, as tabs: (label, status, waiting, test id).
const VIEWS: [(&str, Option<&str>, Option<&str>, &str); 4] = [
    ("Open", Some("open"), None, "filter-open"),
    (
        "Waiting on us",
        Some("open"),
        Some("us"),
        "filter-waiting-us",
    ),
    (
        "Waiting on the customer",
        Some("open"),
        Some("customer"),
        "filter-waiting-customer",
    ),
    ("Closed", Some("closed"), None, "filter-closed"),
];

/// How the list names a customer: their name or email when known.
pub fn customer_label(conversation: &InboxConversation) -> String {
    let customer = &conversation.customer;
    customer
        .name
        .clone()
        .or_else(|| customer.email.clone())
        .unwrap_or_else(|| {
            let short: String = conversation.id.chars().skip(2).take(6).collect();
            format!("Visitor {short}")
        })
}

#[component]
pub fn ConversationList() -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let tabs = VIEWS
        .iter()
        .map(|&(label, status, waiting, test_id)| {
            let pressed = move || {
                inbox
                    .filter
                    .with(|f| f.status == status && f.waiting == waiting)
            };
            view! {
                <button
                    type="button"
                    class="tab"
                    aria-pressed=move || pressed().to_string()
                    data-testid=test_id
                    on:click=move |_| {
                        inbox
                            .filter
                            .update(|f| {
                                f.status = status;
                                f.waiting = waiting;
                            })
                    }
                >
                    {label}
                </button>
            }
        })
        .collect_view();
    let on_assignee = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        inbox.filter.update(|f| {
            f.assignee = match value.as_str() {
                "me" => Some("me"),
                "unassigned" => Some("unassigned"),
                _ => None,
            }
        });
    };
    let on_search = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
    };
    let on_query = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        inbox.filter.update(|f| f.query = value);
    };

    view! {
        <nav class="list" aria-label="Conversations">
            <div class="tabs" role="group" aria-label="Show">
                {tabs}
            </div>
            <form class="list-tools" role="search" on:submit=on_search>
                <label class="visually-hidden" for="assignee">"Assigned to"</label>
                <select id="assignee" on:change=on_assignee data-testid="filter-assignee">
                    <option value="all">"Everyone's"</option>
                    <option value="me">"Mine"</option>
                    <option value="unassigned">"Unassigned"</option>
                </select>
                <label class="visually-hidden" for="search">"Search"</label>
                <input
                    id="search"
                    type="search"
                    placeholder="Search messages, names, emails"
                    on:change=on_query
                    data-testid="search"
                />
            </form>
            {crate::components::settings::error_line(inbox.list_error)}
            <ul class="rows" data-testid="conversation-list">
                <For
                    each=move || {
                        inbox.sites.track();
                        inbox.list.get()
                    }
                    key=move |c| {
                        (
                            c.id.clone(),
                            c.last_activity_at,
                            c.unread,
                            c.status,
                            c.assignee.as_ref().map(|a| a.id.clone()),
                            c.site.name.clone(),
                            inbox.sites.with_untracked(|s| s.len() > 1),
                        )
                    }
                    let:conversation
                >
                    <Row conversation />
                </For>
            </ul>
            {move || {
                inbox
                    .list
                    .with(Vec::is_empty)
                    .then(|| view! { <p class="empty">"No conversations here."</p> })
            }}
            {move || {
                inbox
                    .list_more
                    .get()
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="more"
                                on:click=move |_| inbox.show_more()
                                data-testid="show-more"
                            >
                                "Show more"
                            </button>
                        }
                    })
            }}
        </nav>
    }
}

#[component]
fn Row(conversation: InboxConversation) -> impl IntoView {
    let inbox = expect_context::<Inbox>();
    let id = conversation.id.clone();
    let selected = {
        let id = id.clone();
        move || inbox.selected.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let preview = conversation
        .last_message
        .as_ref()
        .map(|m| m.body.chars().take(90).collect::<String>())
        .unwrap_or_default();
    let unread = conversation.unread;
    let waiting = conversation
        .waiting_since
        .filter(|_| conversation.status == ConversationStatus::Open)
        .map(|since| format!("waiting {}", time::ago(since)));
    let assignee = conversation.assignee.as_ref().map(|a| a.name.clone());
    let assignee_attr = assignee.clone().unwrap_or_default();
    // Rows are made again when the number of sites crosses one (the list's
    // key says so).
    let many = inbox.sites.with_untracked(|s| s.len() > 1);
    let site = conversation.site.name.clone();
    view! {
        <li>
            <button
                type="button"
                class="row"
                class:selected=selected.clone()
                aria-current=move || selected().then_some("true")
                data-testid="conversation-item"
                data-id=id.clone()
                data-unread=unread.to_string()
                data-status=conversation.status.as_str()
                data-assignee=assignee_attr
                on:click=move |_| inbox.select(id.clone())
            >
                <span class="row-top">
                    <span class="customer">{customer_label(&conversation)}</span>
                    {(unread > 0)
                        .then(|| {
                            view! {
                                <span class="unread" data-testid="unread-count">
                                    {unread}
                                    <span class="visually-hidden">" unread"</span>
                                </span>
                            }
                        })}
                </span>
                <span class="preview">{preview}</span>
                <span class="row-meta">
                    {many
                        .then(|| {
                            view! {
                                <span class="site" data-testid="conversation-site">
                                    <span class="visually-hidden">"Site: "</span>
                                    {site}
                                </span>
                            }
                        })}
                    {waiting.map(|w| view! { <span class="waiting">{w}</span> })}
                    {assignee.map(|a| view! { <span class="assignee">{a}</span> })}
                    {(conversation.status == ConversationStatus::Closed)
                        .then(|| view! { <span class="closed">"closed"</span> })}
                </span>
            </button>
        </li>
    }
}
