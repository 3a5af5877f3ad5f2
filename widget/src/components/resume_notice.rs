//! What a resume link that did not work says: why, in plain words, and an
//! offer to email a new one.

use leptos::prelude::*;

use crate::components::email_form::{EmailForm, Purpose};
use crate::messenger::{Messenger, ResumeProblem};
use crate::texts::t;

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
                aria-label=t("card.dismiss")
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
                    t(if problem.get() == Some(ResumeProblem::Unavailable) {
                        "resume.reload"
                    } else {
                        "resume.new_link"
                    })
                }}
            </p>
            <EmailForm id="new-link" button="resume.send" purpose=Purpose::ResumeLink shown focus=shown />
        </section>
    }
}
