//! The SQL of customers: the tokens that open their conversations on each
//! device, their conversations, their email, resume links and unsubscribes.
//! Every token, code and link is stored as its SHA-256 only.

use messenger_wire::{CustomerAccount, CustomerConversation};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{CONVERSATION_COLUMNS_OF_C, Store, conversation_from_row, joined_message};
use messenger_wire::Conversation;

/// Stores a device token (`token_hash`) that opens `conversation_id` of
/// `customer_id`, inside the caller's transaction.
pub(super) async fn insert_device_token(
    conn: &mut sqlx::AnyConnection,
    token_hash: &[u8],
    customer_id: &str,
    conversation_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO customer_tokens (token_hash, customer_id, conversation_id, created_at)
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(customer_id)
    .bind(conversation_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Most conversations `GET /customer` lists (the latest ones).
pub const MAX_LISTED_CONVERSATIONS: i64 = 100;

/// Why a resume link does not work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeRefusal {
    Invalid,
    Used,
    Expired,
}

impl Store {
    /// A new token (`token_hash`) on this device for `conversation_id`, if
    /// it is one of `customer_id`'s conversations.
    pub async fn issue_customer_token(
        &self,
        token_hash: &[u8],
        customer_id: &str,
        conversation_id: &str,
        now: i64,
    ) -> Result<Option<Conversation>, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO customer_tokens (token_hash, customer_id, conversation_id, created_at)
             SELECT $1, customer_id, id, $2 FROM conversations WHERE id = $3 AND customer_id = $4",
        )
        .bind(token_hash)
        .bind(now)
        .bind(conversation_id)
        .bind(customer_id)
        .execute(&self.write)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Ok(None);
        }
        self.conversation(conversation_id).await
    }

    /// The customer's email and latest conversations, latest activity first.
    pub async fn customer_account(
        &self,
        customer_id: &str,
    ) -> Result<CustomerAccount, sqlx::Error> {
        let customer = sqlx::query("SELECT email, unsubscribed_at FROM customers WHERE id = $1")
            .bind(customer_id)
            .fetch_optional(&self.read)
            .await?;
        let (email, unsubscribed) = match customer {
            Some(row) => (
                row.get::<Option<String>, _>("email"),
                row.get::<Option<i64>, _>("unsubscribed_at").is_some(),
            ),
            None => (None, false),
        };
        let conversations = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS_OF_C},
                    m.id AS m_id, m.seq AS m_seq, m.author AS m_author,
                    m.client_id AS m_client_id, m.body AS m_body, m.created_at AS m_created_at,
                    (SELECT count(*) FROM messages u
                     WHERE u.conversation_id = c.id AND u.seq > c.customer_read_seq
                       AND u.author IN ('agent', 'bot')) AS unread
             FROM conversations c
             LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
             WHERE c.customer_id = $1
             ORDER BY c.last_activity_at DESC, c.id DESC
             LIMIT $2"
        ))
        .bind(customer_id)
        .bind(MAX_LISTED_CONVERSATIONS)
        .map(|row: AnyRow| CustomerConversation {
            conversation: conversation_from_row(&row),
            last_message: joined_message(&row),
            unread: row.get("unread"),
        })
        .fetch_all(&self.read)
        .await?;
        Ok(CustomerAccount {
            notify_by_email: email.is_some() && !unsubscribed,
            email,
            conversations,
        })
    }

    /// Sets (or with `None` forgets) the customer's email; a new address
    /// is subscribed. The inbox sees it on every conversation of theirs.
    pub async fn set_customer_email(
        &self,
        customer_id: &str,
        email: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE customers SET email = $1, unsubscribed_at = NULL WHERE id = $2")
            .bind(email)
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE conversations SET customer_email = $1 WHERE customer_id = $2")
            .bind(email)
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Takes a request for a resume link on a site; the mail worker answers it.
    pub async fn request_resume_link(
        &self,
        email: &str,
        site_id: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO resume_requests (email, site_id, created_at) VALUES ($1, $2, $3)")
            .bind(email)
            .bind(site_id)
            .bind(now)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Uses a resume link: marks it used and opens the customer's latest
    /// conversation with the new token `token_hash`, all in one commit, so
    /// a link works once even when opened twice at the same moment. A link
    /// of a customer of another site than `site_id` is not valid here (and
    /// stays unused).
    pub async fn redeem_resume_link(
        &self,
        code_hash: &[u8],
        site_id: &str,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Result<Conversation, ResumeRefusal>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let link = sqlx::query(
            "SELECT l.customer_id, l.expires_at, l.used_at FROM resume_links l
             JOIN customers u ON u.id = l.customer_id
             WHERE l.code_hash = $1 AND u.site_id = $2",
        )
        .bind(code_hash)
        .bind(site_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(link) = link else {
            return Ok(Err(ResumeRefusal::Invalid));
        };
        if link.get::<Option<i64>, _>("used_at").is_some() {
            return Ok(Err(ResumeRefusal::Used));
        }
        if link.get::<i64, _>("expires_at") <= now {
            return Ok(Err(ResumeRefusal::Expired));
        }
        let customer_id: String = link.get("customer_id");
        sqlx::query("UPDATE resume_links SET used_at = $1 WHERE code_hash = $2")
            .bind(now)
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
        let conversation = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS_OF_C} FROM conversations c WHERE c.customer_id = $1
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 1"
        ))
        .bind(&customer_id)
        .map(|row: AnyRow| conversation_from_row(&row))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(conversation) = conversation else {
            return Ok(Err(ResumeRefusal::Invalid));
        };
        insert_device_token(&mut tx, token_hash, &customer_id, &conversation.id, now).await?;
        tx.commit().await?;
        Ok(Ok(conversation))
    }

    /// Uses an unsubscribe code: the customer gets no more email about
    /// replies, or the agent no more notices. Whether the code was known.
    pub async fn unsubscribe(&self, code_hash: &[u8], now: i64) -> Result<bool, sqlx::Error> {
        let row =
            sqlx::query("SELECT customer_id, agent_id FROM unsubscribe_codes WHERE code_hash = $1")
                .bind(code_hash)
                .fetch_optional(&self.read)
                .await?;
        let Some(row) = row else { return Ok(false) };
        if let Some(customer) = row.get::<Option<String>, _>("customer_id") {
            sqlx::query(
                "UPDATE customers SET unsubscribed_at = coalesce(unsubscribed_at, $1) WHERE id = $2",
            )
            .bind(now)
            .bind(customer)
            .execute(&self.write)
            .await?;
        }
        if let Some(agent) = row.get::<Option<String>, _>("agent_id") {
            sqlx::query(
                "UPDATE agents SET email_notifications = 0, notify_due_at = NULL WHERE id = $1",
            )
            .bind(agent)
            .execute(&self.write)
            .await?;
        }
        Ok(true)
    }
}
