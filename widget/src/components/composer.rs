//! Where the customer writes: a growing textarea and a send button.

use leptos::html::Textarea;
use leptos::prelude::*;
use messenger_wire::{ErrorCode, MAX_MESSAGE_CHARS, validate_body};
use web_sys::KeyboardEvent;

use crate::effect::effect;
use crate::messenger::Messenger;
use crate::texts::{t, tf};

/// Enter sends, Shift+Enter starts a new line. Text is checked with the
/// server's own rules before anything is sent; a too-long text stays in place
/// with an explanation under it.
#[component]
pub fn Composer() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let input = NodeRef::<Textarea>::new();

    // Opening the panel (or coming back from the list) puts the cursor here.
    effect(move || {
        if messenger.ready.get() && messenger.open.get() && !messenger.showing_list.get() {
            request_animation_frame(move || {
                if let Some(el) = input.get_untracked() {
                    _ = el.focus();
                }
            });
        }
    });

    let submit = move || {
        let body = text.get_untracked();
        match validate_body(&body) {
            Ok(()) => {
                error.set(None);
                text.set(String::new());
                messenger.send(body);
            }
            Err(ErrorCode::MessageTooLong) => error.set(Some(tf(
                "composer.too_long",
                &[("max", &MAX_MESSAGE_CHARS.to_string())],
            ))),
            // Empty or only spaces: nothing to send.
            Err(_) => {}
        }
    };

    let on_keydown = move |event: KeyboardEvent| {
        // 229: Safari reports IME keystrokes this way without isComposing.
        let composing = event.is_composing() || event.key_code() == 229;
        if event.key() == "Enter" && !event.shift_key() && !composing {
            event.prevent_default();
            submit();
        }
    };

    let on_input = move |_| {
        if text.with_untracked(|t| !t.trim().is_empty()) {
            messenger.typing();
        }
        let fits = text.with_untracked(|t| t.chars().count() <= MAX_MESSAGE_CHARS);
        if fits && error.with_untracked(Option::is_some) {
            error.set(None);
        }
    };

    view! {
        <form
            class="composer"
            on:submit=move |event| {
                event.prevent_default();
                submit();
            }
        >
            <textarea
                node_ref=input
                class="input"
                data-testid="composer-input"
                aria-label=t("composer.label")
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                aria-describedby="composer-error"
                placeholder=t("composer.placeholder")
                rows="1"
                bind:value=text
                on:input=on_input
                on:keydown=on_keydown
            ></textarea>
            <button type="submit" class="send" data-testid="send" aria-label=t("composer.send")>
                <svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">
                    <path d="M3.4 20.4 21 12 3.4 3.6 3.4 10.2 15 12 3.4 13.8z" />
                </svg>
            </button>
        </form>
        <p class="composer-error" id="composer-error" role="alert" data-testid="composer-error">
            {move || error.get()}
        </p>
    }
}
