//! The customer behind the token: the email address replies they miss go
//! to, and every conversation they had (`GET /api/v1/customer`). Shared by
//! the email invitation and the list of conversations through the context.
//!
//! Also the wording both use, kept here so it can be tested without a
//! browser.

use leptos::prelude::*;
use leptos::task::spawn_local;
use messenger_wire::{CustomerAccount, ErrorCode, validate_email};

use crate::api::{self, ApiError};
use crate::effect::effect;
use crate::messenger::Messenger;
use crate::texts::{t, tf};
use crate::timeline::Timeline;

/// Where the customer's account stands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Loaded {
    Not,
    Loading,
    Failed,
    Done(CustomerAccount),
}

#[derive(Clone, Copy)]
pub struct Account {
    messenger: Messenger,
    pub state: RwSignal<Loaded>,
    /// The customer closed the email invitation.
    pub invitation_dismissed: RwSignal<bool>,
    /// Counts loads, so an older answer cannot replace a newer one.
    loads: StoredValue<u32>,
}

impl Account {
    /// Creates the state; the account is loaded again whenever the
    /// customer's token changes, once they have written.
    pub fn new(messenger: Messenger) -> Self {
        let account = Account {
            messenger,
            state: RwSignal::new(Loaded::Not),
            invitation_dismissed: RwSignal::new(stored_dismissal()),
            loads: StoredValue::new(0),
        };
        let has_written =
            Memo::new(move |_| messenger.timeline.with(Timeline::customer_has_written));
        let mut previous: Option<(Option<String>, bool)> = None;
        effect(move || {
            let now = (messenger.customer_token(), has_written.get());
            if now.0.is_some() && now.1 && previous.as_ref() != Some(&now) {
                account.load();
            }
            previous = Some(now);
        });
        account
    }

    /// The account, if loaded; tracked.
    pub fn get(self) -> Option<CustomerAccount> {
        self.state.with(|state| match state {
            Loaded::Done(account) => Some(account.clone()),
            _ => None,
        })
    }

    /// Closes the email invitation, for good on this site where the
    /// browser lets the panel keep a note (its own storage, which browsers
    /// keep apart per site; a blocked one means for this page view).
    pub fn dismiss_invitation(self) {
        self.invitation_dismissed.set(true);
        if let Ok(Some(storage)) = window().local_storage() {
            _ = storage.set_item(DISMISSED_KEY, "1");
        }
    }

    /// The address replies go to, if known; not tracked.
    pub fn email_untracked(self) -> Option<String> {
        self.state.with_untracked(|state| match state {
            Loaded::Done(account) => account.email.clone(),
            _ => None,
        })
    }

    /// Loads (again) the customer's email and conversations.
    pub fn load(self) {
        let Some(token) = self.messenger.customer_token_untracked() else {
            return;
        };
        let id = self.loads.get_value().wrapping_add(1);
        self.loads.set_value(id);
        if !matches!(self.state.get_untracked(), Loaded::Done(_)) {
            self.state.set(Loaded::Loading);
        }
        spawn_local(async move {
            let result = api::customer(&token).await;
            if self.loads.get_value() != id {
                return;
            }
            match result {
                Ok(account) => {
                    // An agent may have closed (or reopened) the
                    // conversation shown since it was loaded.
                    if let Some(shown) = account
                        .conversations
                        .iter()
                        .find(|c| self.messenger.showing_conversation(&c.conversation.id))
                    {
                        self.messenger
                            .conversation_status(shown.conversation.status);
                    }
                    self.state.set(Loaded::Done(account));
                }
                Err(_) => self.state.set(Loaded::Failed),
            }
        });
    }

    /// Saves the address replies go to; the error to show under the field.
    pub async fn save_email(self, email: String) -> Result<(), String> {
        let email = email.trim().to_owned();
        validate_email(&email).map_err(|_| email_error(&ErrorCode::InvalidEmail))?;
        let token = self
            .messenger
            .customer_token_untracked()
            .ok_or_else(|| t("email.try_again"))?;
        match api::set_email(&token, Some(email)).await {
            Ok(account) => {
                self.loads.update_value(|n| *n = n.wrapping_add(1));
                self.state.set(Loaded::Done(account));
                Ok(())
            }
            Err(ApiError::Status { code, .. }) => Err(email_error(&code)),
            Err(_) => Err(t("email.try_again")),
        }
    }
}

/// Where the panel notes that the email invitation was closed.
const DISMISSED_KEY: &str = "messenger:email-invitation-dismissed";

fn stored_dismissal() -> bool {
    window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(DISMISSED_KEY).ok().flatten())
        .is_some()
}

/// Shown under an email field the address in it was refused.
pub fn email_error(code: &ErrorCode) -> String {
    match code {
        ErrorCode::InvalidEmail => t("email.invalid"),
        _ => t("email.try_again"),
    }
}

/// Checks an address before it is sent: the error to show, if any.
pub fn check_email(email: &str) -> Result<(), String> {
    validate_email(email).map_err(|code| email_error(&code))
}

/// The neutral answer to a request for a resume link: the same whether or
/// not the address is known, so it tells nobody who writes to the site.
pub fn link_on_its_way(valid_minutes: i64) -> String {
    let minutes = if valid_minutes == 1 {
        t("email.minute_one")
    } else {
        tf("email.minutes", &[("count", &valid_minutes.to_string())])
    };
    tf("email.link_sent", &[("minutes", &minutes)])
}

/// The line under a conversation once replies are emailed.
pub fn emailing_to(email: &str) -> String {
    tf("email.emailing_to", &[("email", email)])
}

/// How many unread replies a conversation has, in words.
pub fn unread_label(count: i64) -> String {
    tf("list.unread", &[("count", &count.to_string())])
}

/// Requests a resume link for `email`; the sentence to show, or the error.
pub async fn request_link(email: String) -> Result<String, String> {
    check_email(&email)?;
    match api::request_resume_link(&email).await {
        Ok(requested) => Ok(link_on_its_way(requested.valid_minutes)),
        Err(ApiError::Status { code, .. }) => Err(email_error(&code)),
        Err(_) => Err(t("email.try_again")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_sentence_says_how_long_the_link_works() {
        assert_eq!(
            link_on_its_way(30),
            "If we have this address on record, a link is on its way. It works once, for 30 minutes."
        );
        assert!(link_on_its_way(1).ends_with("for 1 minute."));
    }

    #[test]
    fn a_malformed_address_is_explained_with_an_example() {
        assert_eq!(
            check_email("name@"),
            Err("Enter an email address like name@example.com".to_owned())
        );
        assert_eq!(check_email("name@example.com"), Ok(()));
    }

    #[test]
    fn unread_counts_read_naturally() {
        assert_eq!(unread_label(1), "1 unread");
        assert_eq!(unread_label(3), "3 unread");
    }
}
