//! Every HTTP call the widget makes. The panel is served by the API's own
//! origin, so URLs are relative and no cookies are involved: a conversation
//! is identified only by its bearer token.
//!
//! The stream of new messages is read with `fetch` rather than `EventSource`,
//! which cannot send the `Authorization` header; `messenger_client` reads it.

use gloo_net::http::{Request, RequestBuilder};
pub use messenger_client::{ApiError, EventStream};
use messenger_client::{json as send, no_content};
use messenger_wire::sse;
use messenger_wire::{
    API_PREFIX, Conversation, ConversationPage, CustomerAccount, DEFAULT_PAGE_SIZE, ErrorCode,
    MAX_MESSAGE_CHARS, MAX_PAGE_SIZE, MarkRead, Message, ReadEvent, RequestResumeLink, Resume,
    ResumeLinkRequested, SendMessage, SetEmail, StartConversation, StartedConversation,
    TypingEvent, WidgetStatus,
};
use web_sys::{AbortSignal, RequestCache, RequestCredentials};

use crate::texts::{t, tf};

/// How the widget reads a failed call.
pub trait ForCustomer {
    /// Trying the same request again later may succeed.
    fn is_transient(&self) -> bool;
    /// Text to show a customer: why a message was refused.
    fn message(&self) -> String;
}

impl ForCustomer for ApiError {
    fn is_transient(&self) -> bool {
        match self {
            ApiError::Network | ApiError::Decode => true,
            ApiError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
        }
    }

    fn message(&self) -> String {
        match self {
            ApiError::Status {
                code: ErrorCode::MessageTooLong,
                ..
            } => tf(
                "refusal.too_long",
                &[("max", &MAX_MESSAGE_CHARS.to_string())],
            ),
            ApiError::Status {
                code: ErrorCode::MessageEmpty,
                ..
            } => t("refusal.empty"),
            ApiError::Status { message, .. } if !message.is_empty() => format!("{message}."),
            _ => t("refusal.other"),
        }
    }
}

/// Starts a conversation; its token is in the answer and nowhere else.
/// With `parent` (a token of the same customer) the new conversation joins
/// the customer's others. Aborting `signal` gives up (as
/// [`ApiError::Network`]).
pub async fn start_conversation(
    start: &StartConversation,
    parent: Option<&str>,
    signal: &AbortSignal,
) -> Result<StartedConversation, ApiError> {
    let mut request = site(Request::post(&format!("{API_PREFIX}/conversations")))
        .credentials(RequestCredentials::Omit);
    if let Some(parent) = parent {
        request = authorized(request, parent);
    }
    send(request.abort_signal(Some(signal)).json(start)).await
}

/// The customer behind `token`: their email and every conversation.
pub async fn customer(token: &str) -> Result<CustomerAccount, ApiError> {
    let request = authorized(Request::get(&format!("{API_PREFIX}/customer")), token)
        .cache(RequestCache::NoStore)
        .build();
    send(request).await
}

/// Sets (or with `None` forgets) the address missed replies go to.
pub async fn set_email(token: &str, email: Option<String>) -> Result<CustomerAccount, ApiError> {
    let request = authorized(Request::put(&format!("{API_PREFIX}/customer/email")), token)
        .json(&SetEmail { email });
    send(request).await
}

/// A token, for this device, to another conversation of the same customer.
pub async fn conversation_token(token: &str, id: &str) -> Result<StartedConversation, ApiError> {
    let request = authorized(
        Request::post(&format!("{API_PREFIX}/customer/conversations/{id}/token")),
        token,
    )
    .body("");
    send(request).await
}

/// Asks for a resume link by email; the answer is the same for any address.
pub async fn request_resume_link(email: &str) -> Result<ResumeLinkRequested, ApiError> {
    let request = site(Request::post(&format!("{API_PREFIX}/resume-links")))
        .credentials(RequestCredentials::Omit)
        .json(&RequestResumeLink {
            email: email.trim().to_owned(),
        });
    send(request).await
}

/// Trades a resume link's code for a token to the customer's latest
/// conversation.
pub async fn resume(code: &str) -> Result<StartedConversation, ApiError> {
    let request = site(Request::post(&format!("{API_PREFIX}/resume")))
        .credentials(RequestCredentials::Omit)
        .json(&Resume {
            code: code.to_owned(),
        });
    send(request).await
}

/// The latest messages of the conversation.
pub async fn latest_messages(token: &str) -> Result<ConversationPage, ApiError> {
    page(token, &[("limit", &DEFAULT_PAGE_SIZE.to_string())]).await
}

/// The page of messages before `cursor` (a page's `older_cursor`).
pub async fn messages_before(token: &str, cursor: &str) -> Result<ConversationPage, ApiError> {
    page(
        token,
        &[
            ("limit", &DEFAULT_PAGE_SIZE.to_string()),
            ("before", cursor),
        ],
    )
    .await
}

/// Messages with a `seq` above `seq`, oldest first, at most [`MAX_PAGE_SIZE`].
pub async fn messages_after(token: &str, seq: i64) -> Result<ConversationPage, ApiError> {
    page(
        token,
        &[
            ("limit", &MAX_PAGE_SIZE.to_string()),
            ("after", &seq.to_string()),
        ],
    )
    .await
}

/// Sends a customer message. Repeating the call with the same `client_id`
/// and body returns the message stored the first time.
/// Aborting `signal` gives up (as [`ApiError::Network`]); whether the
/// server stored it is then unknown, which a repeat with the same client id
/// settles.
pub async fn send_message(
    token: &str,
    message: &SendMessage,
    signal: &AbortSignal,
) -> Result<Message, ApiError> {
    let request = authorized(
        Request::post(&format!("{API_PREFIX}/conversation/messages")),
        token,
    )
    .abort_signal(Some(signal))
    .json(message);
    send(request).await
}

/// The team's hours and expected reply time, as the panel shows them.
pub async fn status() -> Result<WidgetStatus, ApiError> {
    let request = site(Request::get(&format!("{API_PREFIX}/widget/status")))
        .credentials(RequestCredentials::Omit)
        // Fresh: an admin's change of hours shows at the next page load.
        .cache(RequestCache::NoCache)
        .build();
    send(request).await
}

/// Tells the server the customer has seen everything up to `seq`.
pub async fn mark_read(token: &str, seq: i64) -> Result<(), ApiError> {
    let request = authorized(
        Request::post(&format!("{API_PREFIX}/conversation/read")),
        token,
    )
    .json(&MarkRead { seq });
    no_content(request).await
}

/// Tells the agents the customer is typing.
pub async fn typing(token: &str) -> Result<(), ApiError> {
    let request = authorized(
        Request::post(&format!("{API_PREFIX}/conversation/typing")),
        token,
    )
    .body("");
    no_content(request).await
}

/// Opens the conversation's stream: every message with a `seq` above
/// `after` (caught up from the database), then each new one as it is stored.
/// Aborting `signal` closes it.
pub async fn message_events(
    token: &str,
    after: i64,
    signal: &AbortSignal,
) -> Result<EventStream, ApiError> {
    let request = authorized(
        Request::get(&format!("{API_PREFIX}/conversation/events")),
        token,
    )
    .header("Accept", "text/event-stream")
    .header("Last-Event-ID", &after.to_string())
    .cache(RequestCache::NoStore)
    .abort_signal(Some(signal))
    .build();
    EventStream::open(request).await
}

/// What the conversation's stream carries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StreamEvent {
    /// A stored message, in `seq` order.
    Message(Message),
    /// How far the customer or the agents have read.
    Read(ReadEvent),
    /// Someone is typing.
    Typing(TypingEvent),
    /// The conversation changed: an agent closed or reopened it. (Read if
    /// the server sends it; without it the panel learns of a close when it
    /// next loads the conversation or the customer's list.)
    Conversation(Conversation),
}

impl StreamEvent {
    /// `None` for an event this version does not understand: skipped, not
    /// fatal, so the ones after it still count.
    pub fn parse(event: &sse::Event) -> Option<StreamEvent> {
        let data = &event.data;
        match event.event.as_str() {
            "message" => serde_json::from_str(data).ok().map(StreamEvent::Message),
            "read" => serde_json::from_str(data).ok().map(StreamEvent::Read),
            "typing" => serde_json::from_str(data).ok().map(StreamEvent::Typing),
            "conversation" => serde_json::from_str(data)
                .ok()
                .map(StreamEvent::Conversation),
            _ => None,
        }
    }
}

async fn page(token: &str, query: &[(&str, &str)]) -> Result<ConversationPage, ApiError> {
    let request = authorized(Request::get(&format!("{API_PREFIX}/conversation")), token)
        .query(query.iter().copied())
        // Every answer is fresh by definition; never let a cache replay one.
        .cache(RequestCache::NoStore)
        .build();
    send(request).await
}

thread_local! {
    /// The site's key and the host page's origin, sent with every request.
    static SITE: std::cell::RefCell<(String, Option<String>)> =
        std::cell::RefCell::new(("default".to_owned(), None));
}

/// From now on every request names `key` as its site and `origin` (the
/// host page's, from `mw:init`'s `event.origin`) as where it is embedded.
pub fn set_site(key: &str, origin: Option<&str>) {
    SITE.with(|s| *s.borrow_mut() = (key.to_owned(), origin.map(str::to_owned)));
}

fn site(request: RequestBuilder) -> RequestBuilder {
    SITE.with(|s| {
        let (key, origin) = &*s.borrow();
        let request = request.header("X-Messenger-Site", key);
        match origin {
            Some(origin) => request.header("X-Messenger-Origin", origin),
            None => request,
        }
    })
}

#[derive(serde::Serialize)]
struct IdentityBody<'a> {
    identity: &'a str,
}

/// The answer to identify and claim: a token for this device to the verified
/// customer's latest conversation (none if they have none), and the customer.
#[derive(serde::Deserialize, Clone, Debug)]
pub struct Identified {
    #[serde(default)]
    pub token: Option<String>,
    pub customer: CustomerAccount,
    /// The token sent along is an anonymous customer's: it may be claimed.
    #[serde(default)]
    pub claimable: bool,
}

/// Verifies a signed identity (`POST /identify`); `current`: this device's
/// token, if any.
pub async fn identify(identity: &str, current: Option<&str>) -> Result<Identified, ApiError> {
    let mut request = site(Request::post(&format!("{API_PREFIX}/identify")))
        .credentials(RequestCredentials::Omit);
    if let Some(current) = current {
        request = authorized(request, current);
    }
    send(request.json(&IdentityBody { identity })).await
}

/// Moves every conversation of the anonymous customer behind `anonymous` to
/// the verified one: only ever at the customer's own request.
pub async fn claim(anonymous: &str, identity: &str) -> Result<Identified, ApiError> {
    let request = authorized(
        Request::post(&format!("{API_PREFIX}/customer/claim")),
        anonymous,
    )
    .json(&IdentityBody { identity });
    send(request).await
}

/// Unverified contact details from an identify call without a signature.
#[derive(serde::Serialize, Clone, Default, PartialEq, Eq, Debug)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

pub async fn set_profile(token: &str, profile: &Profile) -> Result<(), ApiError> {
    let request = authorized(
        Request::put(&format!("{API_PREFIX}/customer/profile")),
        token,
    )
    .json(profile);
    // The answer's body (if any) is not needed.
    no_content(request).await
}

/// Ends `token` on the server (reset, logout).
pub async fn forget(token: &str) -> Result<(), ApiError> {
    let request = authorized(
        Request::post(&format!("{API_PREFIX}/customer/forget")),
        token,
    )
    .body("");
    no_content(request).await
}

fn authorized(request: RequestBuilder, token: &str) -> RequestBuilder {
    site(request)
        .header("Authorization", &format!("Bearer {token}"))
        .credentials(RequestCredentials::Omit)
}

#[cfg(test)]
mod tests {
    use super::StreamEvent;
    use messenger_wire::{ConversationStatus, sse};

    #[test]
    fn a_conversation_event_says_whether_it_is_closed() {
        let event = sse::Event {
            event: "conversation".to_owned(),
            data:
                r#"{"id":"c_1","created_at":1,"last_activity_at":2,"last_seq":3,"status":"closed"}"#
                    .to_owned(),
        };
        let Some(StreamEvent::Conversation(conversation)) = StreamEvent::parse(&event) else {
            panic!("not read as a conversation event");
        };
        assert_eq!(conversation.status, ConversationStatus::Closed);
    }

    #[test]
    fn an_unknown_event_is_skipped() {
        let event = sse::Event {
            event: "weather".to_owned(),
            data: "{}".to_owned(),
        };
        assert_eq!(StreamEvent::parse(&event), None);
    }
}
