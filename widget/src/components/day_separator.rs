//! The line between two days of messages.

use leptos::prelude::*;

/// `label`: "Today", "Yesterday" or a date, see [`crate::clock::day_label`].
#[component]
pub fn DaySeparator(label: String) -> impl IntoView {
    view! {
        <div class="day" data-testid="day-separator">
            <span>{label}</span>
        </div>
    }
}
