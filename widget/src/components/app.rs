//! The root component: wires the bridge, the state and the message stream together and
//! lays out the panel.

use leptos::prelude::*;

use crate::account::Account;
use crate::bridge::Bridge;
use crate::components::{
    composer::Composer, conversation_list::ConversationList, header::Header,
    message_list::MessageList,
};
use crate::messenger::Messenger;
use crate::sync;
use crate::texts::t;

#[component]
pub fn App() -> impl IntoView {
    let bridge = Bridge::new();
    let messenger = Messenger::new(bridge);
    let account = Account::new(messenger);
    // The panel is drawn once `mw:init` has brought the site's language and
    // texts (at once when standalone): every text is read once, as the panel
    // is built. Mounted apart rather than behind a reactive `ready`, which
    // would make the whole view rebuildable, and the download much larger.
    let drawn = StoredValue::new(false);
    bridge.listen(move |event| {
        messenger.handle(event);
        if messenger.ready.get_untracked() && !drawn.get_value() {
            drawn.set_value(true);
            leptos::mount::mount_to_body(move || {
                provide_context(messenger);
                provide_context(account);
                panel()
            });
        }
    });
    sync::start(messenger);

    // Esc anywhere in the panel asks the loader to close it (the loader then
    // returns focus to its launcher). Esc during IME composition cancels the
    // composition instead.
    let _listener = window_event_listener(leptos::ev::keydown, move |event| {
        if event.key() == "Escape" && !event.is_composing() {
            bridge.close();
        }
    });
}

/// Both views stay in the page, one hidden: built once, never rebuilt
/// (which also keeps the panel's download small).
fn panel() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    view! {
        <main class="panel" data-testid="panel">
            <Header />
            <div class="conversation-view" hidden=move || messenger.showing_list.get()>
                <MessageList />
                <ClosedNotice />
                <Composer />
            </div>
            <ConversationList />
        </main>
    }
}

/// Above the composer of a closed conversation: writing reopens it.
#[component]
fn ClosedNotice() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    view! {
        <p class="closed-notice" role="status" data-testid="closed-notice">
            {move || {
                (messenger.closed.get() && messenger.has_conversation())
                    .then(|| t("closed.notice"))
            }}
        </p>
    }
}
