//! The signed-in inbox: a header (the agent, whether updates are live,
//! sign-out), the conversation list and the open conversation, and the
//! keyboard shortcuts with their help overlay.

use leptos::html::Textarea;
use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::{ConversationStatus, InboxSession};

use crate::api;
use crate::components::app::Auth;
use crate::components::{list::ConversationList, settings::Settings, view::ConversationView};
use crate::state::Inbox;

/// The shortcuts, as the help overlay lists them.
const SHORTCUTS: [(&str, &str); 5] = [
    ("j", "Next conversation"),
    ("k", "Previous conversation"),
    ("r", "Write a reply"),
    ("c", "Close or reopen the conversation"),
    ("?", "Show or hide this help"),
];

#[component]
pub fn Shell(session: InboxSession) -> impl IntoView {
    let auth = expect_context::<RwSignal<Auth>>();
    let agent = session.agent.clone();
    let inbox = Inbox::new(session, auth);
    provide_context(inbox);
    let help = RwSignal::new(false);
    let settings = RwSignal::new(false);
    let composer = NodeRef::<Textarea>::new();

    let sign_out = move |_| {
        let csrf = inbox.csrf();
        spawn_local(async move {
            // Signed out on the server or not (it may be gone already), this
            // page forgets the session.
            _ = api::sign_out(&csrf).await;
            auth.set(Auth::SignedOut);
        });
    };

    let _keys = window_event_listener(leptos::ev::keydown, move |event| {
        if event.ctrl_key() || event.meta_key() || event.alt_key() {
            return;
        }
        // Typing in a field is typing, not a shortcut.
        let in_field = document()
            .active_element()
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
        let key = event.key();
        if key == "Escape" && help.get_untracked() {
            help.set(false);
            return;
        }
        if in_field || settings.get_untracked() {
            return;
        }
        match key.as_str() {
            "j" | "k" => {
                let step: isize = if key == "j" { 1 } else { -1 };
                let ids: Vec<String> = inbox
                    .list
                    .with_untracked(|l| l.iter().map(|c| c.id.clone()).collect());
                let current = inbox
                    .selected
                    .with_untracked(|s| s.as_ref().and_then(|s| ids.iter().position(|i| i == s)));
                let next = match current {
                    Some(i) => i.checked_add_signed(step).filter(|n| *n < ids.len()),
                    None => (!ids.is_empty()).then_some(0),
                };
                if let Some(next) = next {
                    inbox.select(ids[next].clone());
                }
            }
            "r" => {
                if let Some(el) = composer.get_untracked() {
                    event.prevent_default();
                    _ = el.focus();
                }
            }
            "c" => {
                let status = inbox
                    .view
                    .with_untracked(|v| v.as_ref().map(|v| v.conversation.status));
                match status {
                    Some(ConversationStatus::Open) => spawn_local(inbox.set_status("close")),
                    Some(ConversationStatus::Closed) => spawn_local(inbox.set_status("reopen")),
                    None => {}
                }
            }
            "?" => help.update(|h| *h = !*h),
            _ => {}
        }
    });

    view! {
        <header class="top">
            <h1 class="brand">"Inbox"</h1>
            <span class="live" data-testid="live">
                {move || if inbox.live.get() { "Live" } else { "Reconnecting…" }}
            </span>
            <p class="who" data-testid="signed-in-as">
                {agent.name.clone()}
                <span class="role">{agent.role.as_str()}</span>
            </p>
            <button type="button" class="link" on:click=move |_| help.set(true)>
                "Shortcuts"
            </button>
            <button
                type="button"
                class="link"
                aria-pressed=move || settings.get().to_string()
                on:click=move |_| settings.update(|s| *s = !*s)
                data-testid="open-settings"
            >
                "Settings"
            </button>
            <button type="button" class="link" on:click=sign_out data-testid="sign-out">
                "Sign out"
            </button>
        </header>
        <main class="inbox" data-testid="inbox" hidden=move || settings.get()>
            <ConversationList />
            <ConversationView composer />
        </main>
        {move || settings.get().then(|| view! { <Settings /> })}
        {move || {
            help.get()
                .then(|| {
                    view! {
                        <div class="overlay" on:click=move |_| help.set(false)>
                            <div
                                class="help"
                                role="dialog"
                                aria-modal="true"
                                aria-labelledby="help-title"
                                data-testid="help"
                                on:click=|event| event.stop_propagation()
                            >
                                <h2 id="help-title">"Keyboard shortcuts"</h2>
                                <dl>
                                    {SHORTCUTS
                                        .iter()
                                        .map(|(key, what)| {
                                            view! {
                                                <dt>
                                                    <kbd>{*key}</kbd>
                                                </dt>
                                                <dd>{*what}</dd>
                                            }
                                        })
                                        .collect_view()}
                                </dl>
                                <button type="button" on:click=move |_| help.set(false)>
                                    "Close"
                                </button>
                            </div>
                        </div>
                    }
                })
        }}
    }
}
