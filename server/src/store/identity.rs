//! The SQL of verified customers: a site's signed-in users, found by
//! `(site_id, external_id)`, their device tokens, the claim that moves an
//! anonymous customer's conversations to them, and the unverified profile.
//! Nothing here ever matches customers by email.

use messenger_wire::Conversation;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{CONVERSATION_COLUMNS_OF_C, Store, conversation_from_row};
use crate::identity::Identity;

/// The customer a device token belongs to, as the identity routes see it.
#[derive(Debug, Clone)]
pub struct TokenCustomer {
    pub customer_id: String,
    /// Their id on the site when verified; `None` for an anonymous customer.
    pub external_id: Option<String>,
    /// The conversation the token opens.
    pub conversation_id: String,
}

/// What became of a claim.
#[derive(Debug)]
pub enum Claimed {
    /// The conversations are the verified customer's now; a new token for
    /// the claimed conversation was stored.
    Done(Conversation),
    /// The token is unknown (or was forgotten meanwhile).
    NoToken,
    /// The token's customer is verified already (by anyone).
    AlreadyIdentified,
}

impl Store {
    /// Finds the verified customer `(site_id, identity.external_id)` or
    /// creates them, and records the name and email the site vouched for
    /// (absent ones keep what was stored; a new address is subscribed).
    /// Returns their id.
    pub async fn verified_customer(
        &self,
        site_id: &str,
        identity: &Identity,
        now: i64,
    ) -> Result<String, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let id: String = sqlx::query_scalar(
            "INSERT INTO customers (id, site_id, external_id, name, email, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (site_id, external_id) WHERE external_id IS NOT NULL DO UPDATE SET
                 name = coalesce(excluded.name, customers.name),
                 unsubscribed_at = CASE
                     WHEN excluded.email IS NOT NULL
                          AND (customers.email IS NULL OR customers.email <> excluded.email)
                     THEN NULL ELSE customers.unsubscribed_at END,
                 email = coalesce(excluded.email, customers.email)
             RETURNING id",
        )
        .bind(crate::ids::customer_id())
        .bind(site_id)
        .bind(&identity.external_id)
        .bind(&identity.name)
        .bind(&identity.email)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sync_conversations(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The customer behind a device token, with their identity, when they
    /// are a customer of `site_id` (a token opens nothing elsewhere).
    pub async fn token_customer(
        &self,
        token_hash: &[u8],
        site_id: &str,
    ) -> Result<Option<TokenCustomer>, sqlx::Error> {
        sqlx::query(
            "SELECT t.customer_id, t.conversation_id, u.external_id
             FROM customer_tokens t JOIN customers u ON u.id = t.customer_id
             WHERE t.token_hash = $1 AND u.site_id = $2",
        )
        .bind(token_hash)
        .bind(site_id)
        .map(|row: AnyRow| TokenCustomer {
            customer_id: row.get("customer_id"),
            external_id: row.get("external_id"),
            conversation_id: row.get("conversation_id"),
        })
        .fetch_optional(&self.read)
        .await
    }

    /// A new device token (`token_hash`) for the customer's most recently
    /// active conversation; `None` when they have none.
    pub async fn token_for_latest_conversation(
        &self,
        customer_id: &str,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<Conversation>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let conversation = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS_OF_C} FROM conversations c WHERE c.customer_id = $1
             ORDER BY c.last_activity_at DESC, c.id DESC LIMIT 1"
        ))
        .bind(customer_id)
        .map(|row: AnyRow| conversation_from_row(&row))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(conversation) = conversation else {
            return Ok(None);
        };
        super::customers::insert_device_token(
            &mut tx,
            token_hash,
            customer_id,
            &conversation.id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(conversation))
    }

    /// The claim: every conversation of the anonymous customer behind
    /// `anonymous_token_hash` becomes `verified_id`'s, their device tokens
    /// (this one and those on other devices) now open the verified
    /// customer's, and a new token `token_hash` opens the conversation the
    /// claiming token opened. All in one commit; the anonymous customer is
    /// then deleted. If the verified customer has no email yet, they take
    /// the one the anonymous customer gave (with its unsubscribe state).
    pub async fn claim_customer(
        &self,
        anonymous_token_hash: &[u8],
        verified_id: &str,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Claimed, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "SELECT t.customer_id, t.conversation_id, u.external_id
             FROM customer_tokens t JOIN customers u ON u.id = t.customer_id
             WHERE t.token_hash = $1",
        )
        .bind(anonymous_token_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Claimed::NoToken);
        };
        if row.get::<Option<String>, _>("external_id").is_some() {
            return Ok(Claimed::AlreadyIdentified);
        }
        let anonymous: String = row.get("customer_id");
        let conversation_id: String = row.get("conversation_id");
        // Only the conversations move. Whatever else gave access to the
        // anonymous customer (its tokens on this and other devices, its
        // resume links, the unverified address typed into the widget) is
        // dropped, not handed the verified user's history: on a shared
        // computer it may be someone else's.
        for statement in [
            "UPDATE conversations SET customer_id = $2 WHERE customer_id = $1",
            "DELETE FROM customer_tokens WHERE customer_id = $1",
            "DELETE FROM resume_links WHERE customer_id = $1",
            "DELETE FROM unsubscribe_codes WHERE customer_id = $1",
            "DELETE FROM customers WHERE id = $1",
        ] {
            sqlx::query(statement)
                .bind(&anonymous)
                .bind(verified_id)
                .execute(&mut *tx)
                .await?;
        }
        sync_conversations(&mut tx, verified_id).await?;
        super::customers::insert_device_token(
            &mut tx,
            token_hash,
            verified_id,
            &conversation_id,
            now,
        )
        .await?;
        let conversation = sqlx::query(&format!(
            "SELECT {CONVERSATION_COLUMNS_OF_C} FROM conversations c WHERE c.id = $1"
        ))
        .bind(&conversation_id)
        .map(|row: AnyRow| conversation_from_row(&row))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Claimed::Done(conversation))
    }

    /// Deletes one device token (logout, reset). Whether it existed.
    pub async fn forget_customer_token(&self, token_hash: &[u8]) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM customer_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    /// Sets the contact details a customer typed in (unverified). `None`
    /// leaves a field as it is, `Some(None)` clears it; a new email is
    /// subscribed. The inbox sees them on every conversation of theirs.
    pub async fn set_customer_profile(
        &self,
        customer_id: &str,
        name: Option<Option<&str>>,
        email: Option<Option<&str>>,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        if let Some(name) = name {
            sqlx::query("UPDATE customers SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(customer_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(email) = email {
            sqlx::query(
                "UPDATE customers SET
                     unsubscribed_at = CASE WHEN email IS NOT DISTINCT FROM $1 THEN unsubscribed_at ELSE NULL END,
                     email = $1
                 WHERE id = $2",
            )
            .bind(email)
            .bind(customer_id)
            .execute(&mut *tx)
            .await?;
        }
        sync_conversations(&mut tx, customer_id).await?;
        tx.commit().await
    }
}

/// Copies the customer's name (when they have one: older conversations
/// may carry a name of their own) and email onto their conversations,
/// where the inbox and the mail worker read them.
async fn sync_conversations(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    customer_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE conversations SET
             customer_name = coalesce((SELECT name FROM customers WHERE id = $1), customer_name),
             customer_email = (SELECT email FROM customers WHERE id = $1)
         WHERE customer_id = $1",
    )
    .bind(customer_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
