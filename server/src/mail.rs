//! Email: the worker that turns due follow-ups, resume-link requests and
//! agent notices into queued mail, and sends the queue over SMTP (lettre).
//!
//! - **Follow-up.** An agent's reply schedules a check `--followup-delay-secs`
//!   later (replies in the meantime join it). Then, if the customer has an
//!   address and is subscribed, has not seen the replies, and has no stream
//!   open (no tab of the site), one mail carries every reply not yet
//!   emailed, with a resume link and an unsubscribe link. A customer who is
//!   here is checked again after another delay.
//! - **Resume links** asked for in the widget are answered here, not in the
//!   request, so the answer takes the same time for any address. At most
//!   [`MAX_LINKS_PER_HOUR`] are sent to one customer per hour.
//! - **Agent notices.** A customer message schedules a notice for the
//!   assigned agent (every agent while unassigned); if that agent has no
//!   inbox open when it is due, one mail lists what came in since.
//! - **The queue** is a table: nothing is lost when the SMTP server is down.
//!   A failed attempt is retried with exponential backoff (from 5 s up to
//!   10 min), for 3 days; a permanent refusal (5xx) ends it at once.
//!
//! The worker wakes every second, and at once when work is queued. (With
//! several instances over PostgreSQL it will claim rows with `FOR UPDATE
//! SKIP LOCKED`; over SQLite one process writes.)

use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use messenger_wire::{Message, RESUME_FRAGMENT};
use tokio::sync::Notify;

use crate::config::{Config, DEFAULT_MAIL_FROM};
use crate::presence::Party;
use crate::store::mail::{DueFollowup, MailCodes, NewCustomerMessage, NewMail, QueuedMail};
use crate::{AppState, ids};

/// Resume links sent to one customer per hour, at most.
pub const MAX_LINKS_PER_HOUR: i64 = 3;

/// A failed mail is retried for this long.
const GIVE_UP_AFTER_MS: i64 = 3 * 24 * 3600 * 1000;

/// Email settings and the worker's bell.
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    site_url: Option<String>,
    /// This server's base URL as browsers reach it (for unsubscribe links):
    /// `--public-url`, or the address it listens on.
    base_url: OnceLock<String>,
    pub followup_delay_ms: i64,
    pub agent_notify_delay_ms: i64,
    pub resume_link_ttl_ms: i64,
    wake: Notify,
    /// One pass at a time (the worker's, or a test's).
    pass: tokio::sync::Mutex<()>,
    /// This instance, as the mail lease knows it.
    pub holder: String,
}

impl Mailer {
    pub fn new(config: &Config) -> Mailer {
        let mail = &config.mail;
        let transport = mail.smtp_url.as_ref().and_then(|url| {
            match AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose()) {
                Ok(builder) => Some(builder.timeout(Some(Duration::from_secs(20))).build()),
                Err(err) => {
                    tracing::error!(error = %err, "--smtp-url is not usable; no mail will be sent");
                    None
                }
            }
        });
        let from = mail.mail_from.parse().unwrap_or_else(|err| {
            tracing::error!(error = %err, "--mail-from is not an address; using the default");
            DEFAULT_MAIL_FROM.parse().expect("a valid mailbox")
        });
        let base_url = OnceLock::new();
        if let Some(url) = &config.public_url {
            let _ = base_url.set(url.trim_end_matches('/').to_owned());
        }
        Mailer {
            transport,
            from,
            site_url: mail.site_url.clone(),
            base_url,
            followup_delay_ms: i64::from(mail.followup_delay_secs) * 1000,
            agent_notify_delay_ms: i64::from(mail.agent_notify_delay_secs) * 1000,
            resume_link_ttl_ms: i64::from(mail.resume_link_ttl_secs) * 1000,
            wake: Notify::new(),
            pass: tokio::sync::Mutex::new(()),
            holder: crate::ids::instance_id(),
        }
    }

    /// The base URL when `--public-url` is not set: where we listen.
    pub fn set_default_base_url(&self, url: String) {
        let _ = self.base_url.set(url);
    }

    fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map(String::as_str)
            .unwrap_or("http://localhost")
    }

    /// Wakes the worker (work was queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Runs the worker until the server shuts down.
pub fn spawn_worker(state: AppState) {
    let mut shutdown = state.shutdown.subscribe();
    tokio::spawn(async move {
        while !*shutdown.borrow() {
            if let Err(err) = run_once(&state).await {
                tracing::warn!(error = %err, "mail worker pass failed; trying again");
            }
            tokio::select! {
                _ = shutdown.changed() => {}
                _ = state.mail.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

/// One pass: everything due now is queued, and the due queue is sent.
///
/// With several instances, one at a time (a lease in the database) turns
/// what is due into emails, so none is queued twice; every instance sends
/// from the queue, each row claimed by one of them.
pub async fn run_once(state: &AppState) -> Result<(), sqlx::Error> {
    let _pass = state.mail.pass.lock().await;
    let now = state.now_ms();
    // (SQLite has one instance: no lease to write every second.)
    let ours = state.store.backend() == crate::store::Backend::Sqlite
        || state
            .store
            .claim_lease(MAIL_LEASE, &state.mail.holder, now, now + MAIL_LEASE_MS)
            .await?;
    if ours {
        resume_requests(state).await?;
        followups(state).await?;
        agent_notices(state).await?;
    }
    send_due(state).await
}

/// The lease of the pass that queues emails, and how long it holds: longer
/// than a pass takes, short enough that another instance takes over soon
/// after this one stops.
const MAIL_LEASE: &str = "mail";
const MAIL_LEASE_MS: i64 = 60_000;

/// How long a worker holds the emails it is sending before another may
/// try them (if it died meanwhile).
const SEND_CLAIM_MS: i64 = 10 * 60_000;

async fn followups(state: &AppState) -> Result<(), sqlx::Error> {
    let now = state.now_ms();
    for due in state.store.due_followups(now).await? {
        let Some(email) = due.email.clone() else {
            state.store.clear_followup(&due.conversation_id).await?;
            continue;
        };
        let replies = state
            .store
            .agent_replies_after(
                &due.conversation_id,
                due.emailed_seq.max(due.customer_read_seq),
            )
            .await?;
        let Some(last) = replies.last().map(|m| m.seq) else {
            // Seen (or emailed) already.
            state.store.finish_followup(&due, 0, None, now).await?;
            continue;
        };
        if state
            .presence
            .is_here_anywhere(&Party::Customer(due.customer_id.clone()), now)
            .await
        {
            state
                .store
                .postpone_followup(&due.conversation_id, now + state.mail.followup_delay_ms)
                .await?;
            continue;
        }
        let (mail, codes) = followup_mail(&state.mail, &due, &email, &replies, now);
        state
            .store
            .finish_followup(&due, last, Some((mail, codes)), now)
            .await?;
        tracing::info!(conversation = %due.conversation_id, replies = replies.len(), "follow-up queued");
    }
    Ok(())
}

async fn resume_requests(state: &AppState) -> Result<(), sqlx::Error> {
    loop {
        let requests = state.store.take_resume_requests(50).await?;
        if requests.is_empty() {
            return Ok(());
        }
        for (site_id, email) in requests {
            let now = state.now_ms();
            let found = state
                .store
                .customer_by_email(&site_id, &email, now - 3_600_000)
                .await?;
            let Some((customer_id, page_url, recent)) = found else {
                continue;
            };
            if recent >= MAX_LINKS_PER_HOUR {
                tracing::info!(customer = %customer_id, "resume link not sent: too many this hour");
                continue;
            }
            let (mail, codes) = resume_mail(&state.mail, page_url.as_deref(), &email, now);
            state
                .store
                .queue_customer_mail(&customer_id, &mail, &codes, now)
                .await?;
        }
    }
}

async fn agent_notices(state: &AppState) -> Result<(), sqlx::Error> {
    let now = state.now_ms();
    for due in state.store.due_agent_notices(now).await? {
        if state
            .presence
            .is_here_anywhere(&Party::Agent(due.agent_id.clone()), now)
            .await
        {
            let position = state.store.latest_position().await?;
            state
                .store
                .finish_agent_notice(&due.agent_id, position, None, now)
                .await?;
            continue;
        }
        let messages = state
            .store
            .unread_customer_messages_for(&due.agent_id, due.notified_position)
            .await?;
        let Some(position) = messages.last().map(|m| m.position) else {
            state
                .store
                .finish_agent_notice(&due.agent_id, due.notified_position, None, now)
                .await?;
            continue;
        };
        let (mail, codes) = agent_notice_mail(&state.mail, &due.email, &messages);
        state
            .store
            .finish_agent_notice(&due.agent_id, position, Some((mail, codes)), now)
            .await?;
    }
    Ok(())
}

async fn send_due(state: &AppState) -> Result<(), sqlx::Error> {
    let Some(transport) = &state.mail.transport else {
        return Ok(());
    };
    loop {
        let now = state.now_ms();
        let due = state.store.due_mail(now, 20, now + SEND_CLAIM_MS).await?;
        if due.is_empty() {
            return Ok(());
        }
        let mut progress = false;
        for queued in due {
            match send_one(transport, &state.mail.from, &queued).await {
                Ok(()) => {
                    state.store.mail_sent(queued.id, state.now_ms()).await?;
                    progress = true;
                }
                Err(SendError::Permanent(error)) => {
                    tracing::warn!(mail = queued.id, %error, "mail refused for good");
                    state
                        .store
                        .mail_failed(queued.id, now, None, &error)
                        .await?;
                }
                Err(SendError::Transient(error)) => {
                    let retry_at = (now - queued.created_at < GIVE_UP_AFTER_MS)
                        .then(|| now + backoff_ms(queued.attempts));
                    tracing::warn!(mail = queued.id, %error, attempts = queued.attempts + 1, "mail not sent; will retry");
                    state
                        .store
                        .mail_failed(queued.id, now, retry_at, &error)
                        .await?;
                }
            }
        }
        if !progress {
            return Ok(());
        }
    }
}

/// Wait before attempt `attempts + 1`: 5 s doubling, at most 10 min.
pub fn backoff_ms(attempts: i64) -> i64 {
    (5_000i64 << attempts.clamp(0, 10)).min(600_000)
}

enum SendError {
    Permanent(String),
    Transient(String),
}

async fn send_one(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    queued: &QueuedMail,
) -> Result<(), SendError> {
    let mail = &queued.mail;
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|e| SendError::Permanent(format!("bad recipient: {e}")))?;
    let mut builder = lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone());
    if let Some(url) = &mail.unsubscribe_url {
        builder = builder
            .raw_header(raw_header("List-Unsubscribe", format!("<{url}>")))
            .raw_header(raw_header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".to_owned(),
            ));
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(mail.text_body.clone());
    let message = match &mail.html_body {
        Some(html) => builder.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => builder.singlepart(text),
    }
    .map_err(|e| SendError::Permanent(format!("cannot build the mail: {e}")))?;
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(err) if err.is_permanent() => Err(SendError::Permanent(err.to_string())),
        Err(err) => Err(SendError::Transient(err.to_string())),
    }
}

/// A header lettre has no type for: `List-Unsubscribe: <url>` (RFC 2369)
/// and `List-Unsubscribe-Post` (RFC 8058, one-click).
fn raw_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Codes for a customer mail: a resume link (valid for the TTL) and an
/// unsubscribe link. Returns the codes to store and the two URLs.
fn customer_codes(
    mailer: &Mailer,
    page_url: Option<&str>,
    now: i64,
) -> (MailCodes, String, String) {
    let resume = ids::email_code();
    let unsubscribe = ids::email_code();
    let page = mailer
        .site_url
        .as_deref()
        .or(page_url)
        .map(|u| u.split('#').next().unwrap_or(u).to_owned())
        .unwrap_or_else(|| format!("{}/", mailer.base_url()));
    let resume_url = format!("{page}#{RESUME_FRAGMENT}{resume}");
    let unsubscribe_url = unsubscribe_url(mailer, &unsubscribe);
    (
        MailCodes {
            resume: Some((
                ids::hash_secret(&resume).to_vec(),
                now + mailer.resume_link_ttl_ms,
            )),
            unsubscribe: Some(ids::hash_secret(&unsubscribe).to_vec()),
        },
        resume_url,
        unsubscribe_url,
    )
}

fn unsubscribe_url(mailer: &Mailer, code: &str) -> String {
    format!("{}/email/unsubscribe?code={code}", mailer.base_url())
}

/// The follow-up mail: the replies, a resume link and an unsubscribe link.
fn followup_mail(
    mailer: &Mailer,
    due: &DueFollowup,
    email: &str,
    replies: &[Message],
    now: i64,
) -> (NewMail, MailCodes) {
    let (codes, resume_url, unsubscribe_url) = customer_codes(mailer, due.page_url.as_deref(), now);
    let subject = if replies.len() == 1 {
        "You have a new reply".to_owned()
    } else {
        format!("You have {} new replies", replies.len())
    };
    let mut text = String::from("We replied to your message:\n\n");
    let mut html = String::from("<p>We replied to your message:</p>\n");
    for reply in replies {
        for line in reply.body.lines() {
            text.push_str("> ");
            text.push_str(line);
            text.push('\n');
        }
        text.push('\n');
        html.push_str(&format!(
            "<blockquote style=\"white-space:pre-wrap\">{}</blockquote>\n",
            escape_html(&reply.body)
        ));
    }
    let hours = mailer.resume_link_ttl_ms / 3_600_000;
    text.push_str(&format!(
        "Continue the conversation (the link works once, for {hours} hours):\n{resume_url}\n\n\
         Don't want these emails? Unsubscribe: {unsubscribe_url}\n"
    ));
    html.push_str(&format!(
        "<p><a href=\"{0}\">Continue the conversation</a> (the link works once, for {hours} hours)</p>\n\
         <p style=\"font-size:small\">Don't want these emails? <a href=\"{1}\">Unsubscribe</a></p>\n",
        escape_html(&resume_url),
        escape_html(&unsubscribe_url),
    ));
    (
        NewMail {
            recipient: email.to_owned(),
            subject,
            text_body: text,
            html_body: Some(html),
            unsubscribe_url: Some(unsubscribe_url),
        },
        codes,
    )
}

/// The mail answering a resume-link request.
fn resume_mail(
    mailer: &Mailer,
    page_url: Option<&str>,
    email: &str,
    now: i64,
) -> (NewMail, MailCodes) {
    let (codes, resume_url, unsubscribe_url) = customer_codes(mailer, page_url, now);
    let hours = mailer.resume_link_ttl_ms / 3_600_000;
    let text = format!(
        "Here is your link to continue your conversations on this device.\n\
         It works once, for {hours} hours:\n{resume_url}\n\n\
         If you did not ask for it, ignore this email.\n\n\
         Don't want emails from us? Unsubscribe: {unsubscribe_url}\n"
    );
    let html = format!(
        "<p>Here is your link to continue your conversations on this device.</p>\n\
         <p><a href=\"{0}\">Continue your conversations</a> (the link works once, for {hours} hours)</p>\n\
         <p>If you did not ask for it, ignore this email.</p>\n\
         <p style=\"font-size:small\">Don't want emails from us? <a href=\"{1}\">Unsubscribe</a></p>\n",
        escape_html(&resume_url),
        escape_html(&unsubscribe_url),
    );
    (
        NewMail {
            recipient: email.to_owned(),
            subject: "Your link to continue the conversation".to_owned(),
            text_body: text,
            html_body: Some(html),
            unsubscribe_url: Some(unsubscribe_url),
        },
        codes,
    )
}

/// The notice to an agent: new customer messages, per conversation.
fn agent_notice_mail(
    mailer: &Mailer,
    email: &str,
    messages: &[NewCustomerMessage],
) -> (NewMail, MailCodes) {
    let unsubscribe = ids::email_code();
    let unsubscribe_url = unsubscribe_url(mailer, &unsubscribe);
    let inbox = format!("{}/inbox/", mailer.base_url());
    let mut conversations: Vec<(&str, Vec<&NewCustomerMessage>)> = Vec::new();
    for m in messages {
        match conversations
            .iter_mut()
            .find(|(id, _)| *id == m.conversation_id)
        {
            Some((_, list)) => list.push(m),
            None => conversations.push((&m.conversation_id, vec![m])),
        }
    }
    let subject = if messages.len() == 1 {
        "1 new customer message".to_owned()
    } else {
        format!(
            "{} new customer messages in {} conversation{}",
            messages.len(),
            conversations.len(),
            if conversations.len() == 1 { "" } else { "s" }
        )
    };
    let mut text = String::new();
    for (_, list) in &conversations {
        let first = list[0];
        let who = first
            .customer_name
            .as_deref()
            .or(first.customer_email.as_deref())
            .unwrap_or("A visitor");
        text.push_str(&format!("{who} wrote:\n"));
        for m in list {
            let line: String = m.message.body.chars().take(500).collect();
            text.push_str(&format!("> {}\n", line.replace('\n', "\n> ")));
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Answer in the inbox: {inbox}\n\nStop these emails: {unsubscribe_url}\n"
    ));
    (
        NewMail {
            recipient: email.to_owned(),
            subject,
            text_body: text,
            html_body: None,
            unsubscribe_url: Some(unsubscribe_url),
        },
        MailCodes {
            resume: None,
            unsubscribe: Some(ids::hash_secret(&unsubscribe).to_vec()),
        },
    )
}

/// Text as HTML text: `&`, `<`, `>` and quotes escaped.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_to_ten_minutes() {
        assert_eq!(backoff_ms(0), 5_000);
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(3), 40_000);
        assert_eq!(backoff_ms(8), 600_000);
        assert_eq!(backoff_ms(60), 600_000);
    }

    #[test]
    fn message_text_is_escaped_in_html_mail() {
        assert_eq!(
            escape_html("<img src=x onerror=\"a&b\">"),
            "&lt;img src=x onerror=&quot;a&amp;b&quot;&gt;"
        );
    }
}
