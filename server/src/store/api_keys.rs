//! The SQL of agent API keys (the rules around them are in
//! [`crate::api::inbox`]'s key routes and the [`crate::api::Agent`]
//! extractor). Only a key's SHA-256 is stored.

use messenger_wire::{AgentRef, ApiKeyInfo};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;

/// A key's last use is written at most this often.
pub const API_KEY_TOUCH_MS: i64 = 60 * 1000;

/// A valid (unrevoked) key found by its hash.
#[derive(Debug, Clone)]
pub struct ActiveApiKey {
    pub id: String,
    pub last_used_at: Option<i64>,
}

const KEY_COLUMNS: &str = "k.id, k.name, k.hint, k.created_at, k.last_used_at, k.revoked_at,
     a.id AS agent_id, a.name AS agent_name";

impl Store {
    /// Stores a new key (its hash) and returns it as the inbox lists it.
    pub async fn insert_api_key(
        &self,
        id: &str,
        name: &str,
        key_hash: &[u8],
        hint: &str,
        created_by: &str,
        now: i64,
    ) -> Result<ApiKeyInfo, sqlx::Error> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, key_hash, hint, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(name)
        .bind(key_hash)
        .bind(hint)
        .bind(created_by)
        .bind(now)
        .execute(&self.write)
        .await?;
        self.api_key_in(id, &self.write)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Every key, revoked ones too, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyInfo>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN agents a ON a.id = k.created_by
             ORDER BY k.created_at, k.id"
        ))
        .map(|row: AnyRow| api_key_from_row(&row))
        .fetch_all(&self.read)
        .await
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyInfo>, sqlx::Error> {
        self.api_key_in(id, &self.read).await
    }

    async fn api_key_in(
        &self,
        id: &str,
        pool: &sqlx::AnyPool,
    ) -> Result<Option<ApiKeyInfo>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN agents a ON a.id = k.created_by
             WHERE k.id = $1"
        ))
        .bind(id)
        .map(|row: AnyRow| api_key_from_row(&row))
        .fetch_optional(pool)
        .await
    }

    /// Revokes a key at `now` (keeping an earlier time if already revoked);
    /// `None` if there is no such key.
    pub async fn revoke_api_key(
        &self,
        id: &str,
        now: i64,
    ) -> Result<Option<ApiKeyInfo>, sqlx::Error> {
        let updated =
            sqlx::query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.write)
                .await?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        self.api_key_in(id, &self.write).await
    }

    /// The unrevoked key with this hash, if any.
    pub async fn active_api_key(
        &self,
        key_hash: &[u8],
    ) -> Result<Option<ActiveApiKey>, sqlx::Error> {
        sqlx::query(
            "SELECT id, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .map(|row: AnyRow| ActiveApiKey {
            id: row.get("id"),
            last_used_at: row.get("last_used_at"),
        })
        .fetch_optional(&self.read)
        .await
    }

    /// Whether the key exists and is not revoked.
    pub async fn api_key_is_active(&self, id: &str) -> Result<bool, sqlx::Error> {
        let active: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL)
             THEN 1 ELSE 0 END",
        )
        .bind(id)
        .fetch_one(&self.read)
        .await?;
        Ok(active != 0)
    }

    /// Records use of a key, unless that was done less than
    /// [`API_KEY_TOUCH_MS`] ago (by another request in a race, say).
    pub async fn touch_api_key(&self, id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $1 - $3)",
        )
        .bind(now)
        .bind(id)
        .bind(API_KEY_TOUCH_MS)
        .execute(&self.write)
        .await?;
        Ok(())
    }
}

fn api_key_from_row(row: &AnyRow) -> ApiKeyInfo {
    ApiKeyInfo {
        id: row.get("id"),
        name: row.get("name"),
        hint: row.get("hint"),
        created_by: AgentRef {
            id: row.get("agent_id"),
            name: row.get("agent_name"),
        },
        created_at: row.get("created_at"),
        last_used_at: row.get("last_used_at"),
        revoked_at: row.get("revoked_at"),
    }
}
