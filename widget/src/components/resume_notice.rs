//! What a resume link that did not work says: why, in plain words, and an
//! offer to email a new one.

use leptos::prelude::*;

use crate::components::resume_link_form::ResumeLinkForm;
use crate::messenger::{Messenger, ResumeProblem};

#[component]
pub fn ResumeNotice() -> impl IntoView {
    let messenger = expect_context::<Messenger>();
    move || {
        let problem = messenger.resume_problem.get()?;
        let retry = problem == ResumeProblem::Unavailable;
        Some(view! {
            <section class="card" aria-labelledby="resume-problem" data-testid="resume-problem">
                <button
                    type="button"
                    class="card-close"
                    aria-label="Dismiss"
                    data-testid="resume-problem-dismiss"
                    on:click=move |_| messenger.resume_problem.set(None)
                >
                    "×"
                </button>
                <p class="card-title" id="resume-problem" role="alert">
                    {problem.explanation()}
                </p>
                <p>
                    {if retry {
                        "Reload the page to try again, or get a new link by email."
                    } else {
                        "We can email you a new one."
                    }}
                </p>
                <ResumeLinkForm id="new-link" button="Send me a new link" />
            </section>
        })
    }
}
