//! The SQL of outgoing mail: the persistent queue, and the three kinds of
//! work that fill it (follow-ups of missed replies, resume links asked for,
//! notices to agents). The rules and the wording are in [`crate::mail`].

use messenger_wire::Message;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::{Store, message_from_row};

/// A mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    pub unsubscribe_url: Option<String>,
}

/// A queued mail due for an attempt.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub mail: NewMail,
    pub created_at: i64,
    pub attempts: i64,
}

/// A conversation whose follow-up is due.
#[derive(Debug, Clone)]
pub struct DueFollowup {
    pub conversation_id: String,
    pub customer_id: String,
    /// `None` when the customer has no address any more, or unsubscribed.
    pub email: Option<String>,
    pub customer_read_seq: i64,
    pub emailed_seq: i64,
    pub page_url: Option<String>,
}

/// An agent whose notice is due.
#[derive(Debug, Clone)]
pub struct DueNotice {
    pub agent_id: String,
    pub email: String,
    pub notified_position: i64,
}

/// A customer message an agent has not been told of.
#[derive(Debug, Clone)]
pub struct NewCustomerMessage {
    pub conversation_id: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub position: i64,
    pub message: Message,
}

/// Codes (hashed) that go with a mail: a resume link and an unsubscribe
/// link, for a customer or an agent.
#[derive(Debug, Clone, Default)]
pub struct MailCodes {
    pub resume: Option<(Vec<u8>, i64)>,
    pub unsubscribe: Option<Vec<u8>>,
}

impl Store {
    /// Mails due for an attempt, oldest first.
    ///
    /// The rows returned are claimed: their next attempt moves to
    /// `claim_until`, so no other worker (of this instance or another)
    /// takes them meanwhile; sending then marks them sent or failed. A
    /// worker that dies while sending leaves them to be tried again then.
    pub async fn due_mail(
        &self,
        now: i64,
        limit: i64,
        claim_until: i64,
    ) -> Result<Vec<QueuedMail>, sqlx::Error> {
        let mut rows = sqlx::query(&format!(
            "UPDATE mail_queue SET next_attempt_at = $3
             WHERE id IN (SELECT id FROM mail_queue
                          WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
                          ORDER BY next_attempt_at, id LIMIT $2{})
               AND sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1
             RETURNING id, recipient, subject, text_body, html_body, unsubscribe_url, created_at,
                       attempts",
            self.backend.skip_locked()
        ))
        .bind(now)
        .bind(limit)
        .bind(claim_until)
        .map(|row: AnyRow| QueuedMail {
            id: row.get("id"),
            mail: NewMail {
                recipient: row.get("recipient"),
                subject: row.get("subject"),
                text_body: row.get("text_body"),
                html_body: row.get("html_body"),
                unsubscribe_url: row.get("unsubscribe_url"),
            },
            created_at: row.get("created_at"),
            attempts: row.get("attempts"),
        })
        .fetch_all(&self.write)
        .await?;
        rows.sort_by_key(|m| m.id);
        Ok(rows)
    }

    /// Claims the lease `name` for `holder` until `until_ms` if it is free,
    /// expired or already `holder`'s: of several instances, one runs a job.
    pub async fn claim_lease(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        crate::retention::claim_lease(&self.write, name, holder, now_ms, until_ms).await
    }

    /// How many mails wait to be sent (the metric, and tests).
    pub async fn pending_mail(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT count(*) FROM mail_queue WHERE sent_at IS NULL AND failed_at IS NULL",
        )
        .fetch_one(&self.read)
        .await
    }

    pub async fn mail_sent(&self, id: i64, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE mail_queue SET sent_at = $1, attempts = attempts + 1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// A failed attempt: try again at `retry_at`, or (`None`) give up.
    pub async fn mail_failed(
        &self,
        id: i64,
        now: i64,
        retry_at: Option<i64>,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE mail_queue
             SET attempts = attempts + 1, last_error = $1, next_attempt_at = coalesce($2, next_attempt_at),
                 failed_at = CASE WHEN $3 IS NULL THEN $4 ELSE NULL END
             WHERE id = $5",
        )
        .bind(error)
        .bind(retry_at)
        .bind(retry_at)
        .bind(now)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Conversations whose follow-up is due.
    pub async fn due_followups(&self, now: i64) -> Result<Vec<DueFollowup>, sqlx::Error> {
        sqlx::query(
            "SELECT c.id, c.customer_id, c.customer_read_seq, c.emailed_seq, c.page_url,
                    CASE WHEN u.unsubscribed_at IS NULL THEN u.email END AS email
             FROM conversations c JOIN customers u ON u.id = c.customer_id
             WHERE c.followup_due_at IS NOT NULL AND c.followup_due_at <= $1
             ORDER BY c.followup_due_at LIMIT 100",
        )
        .bind(now)
        .map(|row: AnyRow| DueFollowup {
            conversation_id: row.get("id"),
            customer_id: row.get("customer_id"),
            email: row.get("email"),
            customer_read_seq: row.get("customer_read_seq"),
            emailed_seq: row.get("emailed_seq"),
            page_url: row.get("page_url"),
        })
        .fetch_all(&self.read)
        .await
    }

    /// Agent messages after `seq` (oldest first, at most 20).
    pub async fn agent_replies_after(
        &self,
        conversation_id: &str,
        seq: i64,
    ) -> Result<Vec<Message>, sqlx::Error> {
        sqlx::query(
            "SELECT id, seq, author, client_id, body, created_at FROM messages
             WHERE conversation_id = $1 AND seq > $2 AND author = 'agent'
             ORDER BY seq LIMIT 20",
        )
        .bind(conversation_id)
        .bind(seq)
        .map(message_from_row)
        .fetch_all(&self.read)
        .await
    }

    /// Checks the follow-up again at `due_at` (the customer is here now).
    pub async fn postpone_followup(
        &self,
        conversation_id: &str,
        due_at: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE conversations SET followup_due_at = $1 WHERE id = $2")
            .bind(due_at)
            .bind(conversation_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Ends a due follow-up: records what was emailed (up to `emailed_seq`)
    /// and queues the mail with its codes, in one commit; with no mail,
    /// only clears the due time.
    pub async fn finish_followup(
        &self,
        followup: &DueFollowup,
        emailed_seq: i64,
        mail: Option<(NewMail, MailCodes)>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        // A reply stored since the worker read the row moved the due time
        // only if it was cleared; keep it when there is more to tell.
        sqlx::query(
            "UPDATE conversations
             SET emailed_seq = CASE WHEN $1 > emailed_seq THEN $1 ELSE emailed_seq END,
                 followup_due_at = CASE WHEN EXISTS (
                     SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id
                       AND m.author = 'agent'
                       AND m.seq > $1 AND m.seq > emailed_seq AND m.seq > customer_read_seq)
                     THEN followup_due_at ELSE NULL END
             WHERE id = $2",
        )
        .bind(emailed_seq)
        .bind(&followup.conversation_id)
        .execute(&mut *tx)
        .await?;
        if let Some((mail, codes)) = mail {
            insert_codes(&mut tx, &codes, Some(&followup.customer_id), None, now).await?;
            insert_mail(&mut tx, &mail, now).await?;
        }
        tx.commit().await
    }

    /// Ends a due follow-up with nothing to send (no address, or
    /// unsubscribed): a later reply schedules a new one.
    pub async fn clear_followup(&self, conversation_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE conversations SET followup_due_at = NULL WHERE id = $1")
            .bind(conversation_id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Takes up to `limit` resume-link requests off the list.
    pub async fn take_resume_requests(
        &self,
        limit: i64,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query(
            "DELETE FROM resume_requests WHERE id IN
                 (SELECT id FROM resume_requests ORDER BY id LIMIT $1)
             RETURNING site_id, email",
        )
        .bind(limit)
        .map(|row: AnyRow| (row.get("site_id"), row.get("email")))
        .fetch_all(&self.write)
        .await
    }

    /// The customer of `site_id` with this (subscribed or not) address who
    /// was active last (a site's customers are never another site's), the page their latest conversation started on, and how many
    /// resume links they were sent since `since`.
    pub async fn customer_by_email(
        &self,
        site_id: &str,
        email: &str,
        since: i64,
    ) -> Result<Option<(String, Option<String>, i64)>, sqlx::Error> {
        sqlx::query(
            "SELECT u.id,
                    (SELECT c.page_url FROM conversations c WHERE c.customer_id = u.id
                     ORDER BY c.last_activity_at DESC LIMIT 1) AS page_url,
                    (SELECT count(*) FROM resume_links l
                     WHERE l.customer_id = u.id AND l.created_at >= $2) AS recent
             FROM customers u
             WHERE u.email = $1 AND u.site_id = $3
             ORDER BY coalesce((SELECT max(c.last_activity_at) FROM conversations c
                                WHERE c.customer_id = u.id), 0) DESC
             LIMIT 1",
        )
        .bind(email)
        .bind(since)
        .bind(site_id)
        .map(|row: AnyRow| (row.get("id"), row.get("page_url"), row.get("recent")))
        .fetch_optional(&self.read)
        .await
    }

    /// Queues a mail for a customer with its codes, in one commit.
    pub async fn queue_customer_mail(
        &self,
        customer_id: &str,
        mail: &NewMail,
        codes: &MailCodes,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        insert_codes(&mut tx, codes, Some(customer_id), None, now).await?;
        insert_mail(&mut tx, mail, now).await?;
        tx.commit().await
    }

    /// Agents whose notice is due.
    pub async fn due_agent_notices(&self, now: i64) -> Result<Vec<DueNotice>, sqlx::Error> {
        sqlx::query(
            "SELECT id, email, notified_position FROM agents
             WHERE notify_due_at IS NOT NULL AND notify_due_at <= $1",
        )
        .bind(now)
        .map(|row: AnyRow| DueNotice {
            agent_id: row.get("id"),
            email: row.get("email"),
            notified_position: row.get("notified_position"),
        })
        .fetch_all(&self.read)
        .await
    }

    /// Customer messages after `position` that no agent has read yet, in
    /// conversations assigned to the agent or to nobody (at most 200).
    pub async fn unread_customer_messages_for(
        &self,
        agent_id: &str,
        position: i64,
    ) -> Result<Vec<NewCustomerMessage>, sqlx::Error> {
        sqlx::query(
            "SELECT m.id, m.seq, m.author, m.client_id, m.body, m.created_at, m.position,
                    m.conversation_id, c.customer_name, c.customer_email
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.position > $1 AND m.author = 'customer' AND m.seq > c.agent_read_seq
               AND (c.assignee_id IS NULL OR c.assignee_id = $2)
             ORDER BY m.position LIMIT 200",
        )
        .bind(position)
        .bind(agent_id)
        .map(|row: AnyRow| NewCustomerMessage {
            conversation_id: row.get("conversation_id"),
            customer_name: row.get("customer_name"),
            customer_email: row.get("customer_email"),
            position: row.get("position"),
            message: message_from_row(row),
        })
        .fetch_all(&self.read)
        .await
    }

    /// The latest global position (agents who are here have seen up to it).
    pub async fn latest_position(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT last FROM message_positions WHERE id = 1")
            .fetch_one(&self.read)
            .await
    }

    /// Ends an agent's due notice: they were told (or saw) up to `position`.
    pub async fn finish_agent_notice(
        &self,
        agent_id: &str,
        position: i64,
        mail: Option<(NewMail, MailCodes)>,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query(
            "UPDATE agents SET notify_due_at = NULL,
                 notified_position = CASE WHEN $1 > notified_position THEN $1 ELSE notified_position END
                 WHERE id = $2",
        )
        .bind(position)
        .bind(agent_id)
        .execute(&mut *tx)
        .await?;
        if let Some((mail, codes)) = mail {
            insert_codes(&mut tx, &codes, None, Some(agent_id), now).await?;
            insert_mail(&mut tx, &mail, now).await?;
        }
        tx.commit().await
    }
}

async fn insert_mail(
    tx: &mut Transaction<'_, Any>,
    mail: &NewMail,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_queue
             (recipient, subject, text_body, html_body, unsubscribe_url, created_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&mail.recipient)
    .bind(&mail.subject)
    .bind(&mail.text_body)
    .bind(&mail.html_body)
    .bind(&mail.unsubscribe_url)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_codes(
    tx: &mut Transaction<'_, Any>,
    codes: &MailCodes,
    customer_id: Option<&str>,
    agent_id: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    if let (Some((hash, expires_at)), Some(customer_id)) = (&codes.resume, customer_id) {
        sqlx::query(
            "INSERT INTO resume_links (code_hash, customer_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(customer_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(hash) = &codes.unsubscribe {
        sqlx::query(
            "INSERT INTO unsubscribe_codes (code_hash, customer_id, agent_id, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(customer_id)
        .bind(agent_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
