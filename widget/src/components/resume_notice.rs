//! What a resume link that did not work says: why, in plain words, and an
//! offer to email a new one.

use leptos::prelude::*;

use crate::components::email_form::{EmailForm, Purpose};
use crate::messenger::{Messenger, ResumeProblem};

#[component]
pub fn ResumeNotice() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    let problem = messenger.resume_problem;
    let shown = Signal::derive(move || problem.with(Option::is_some));
    view! {
        <section
            class="card"
            aria-labelledby="resume-problem"
            data-testid="resume-problem"
            hidden=move || !shown.get()
        >
            <button
                type="button"
                class="card-close"
                aria-label="Dismiss"
                data-testid="resume-problem-dismiss"
                on:click=move |_| problem.set(None)
            >
                "×"
            </button>
            <p class="card-title" id="resume-problem" role="alert">
                {move || problem.get().map(ResumeProblem::explanation)}
            </p>
            <p>
                {move || {
                    if problem.get() == Some(ResumeProblem::Unavailable) {
                        "Reload the page to try again, or get a new link by email."
                    } else {
                        "We can email you a new one."
                    }
                }}
            </p>
            <EmailForm id="new-link" button="Send me a new link" purpose=Purpose::ResumeLink shown focus=shown />
        </section>
    }
}
