//! The SQL of agent accounts and inbox sessions (the rules around them, such
//! as password hashing and expiry, live in [`crate::accounts`]).
//!
//! Sessions live in the database, not in memory, so any instance can check
//! any session and a restart signs nobody out. A revoked session is deleted;
//! the functions that delete sessions return their ids, so the caller can
//! announce them to the open streams (see [`crate::accounts::Revocations`]).

use messenger_wire::{AgentAccount, AgentRef, Role};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::accounts::{SESSION_IDLE_MS, SESSION_MAX_MS};

/// An agent with the hash of its password, for signing in.
#[derive(Debug, Clone)]
pub struct AgentRecord {
    pub account: AgentAccount,
    pub password_hash: String,
}

/// A live session and its agent.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub agent: AgentAccount,
    pub last_seen_at: i64,
}

const AGENT_COLUMNS: &str = "id, email, name, role, created_at, disabled_at, password_hash";

impl Store {
    /// Stores a new agent; `false` when the email is taken.
    pub async fn insert_agent(
        &self,
        account: &AgentAccount,
        password_hash: &str,
    ) -> Result<bool, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO agents (id, email, name, password_hash, role, disabled_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&account.id)
        .bind(&account.email)
        .bind(&account.name)
        .bind(password_hash)
        .bind(account.role.as_str())
        .bind(account.disabled_at)
        .bind(account.created_at)
        .execute(&self.write)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// The agent with this (lowercased) email.
    pub async fn agent_by_email(&self, email: &str) -> Result<Option<AgentRecord>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE email = $1"
        ))
        .bind(email)
        .map(|row: AnyRow| agent_record_from_row(&row))
        .fetch_optional(&self.read)
        .await
    }

    pub async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, sqlx::Error> {
        sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
            .bind(id)
            .map(|row: AnyRow| agent_record_from_row(&row))
            .fetch_optional(&self.read)
            .await
    }

    /// Every agent, oldest account first.
    pub async fn agents(&self) -> Result<Vec<AgentAccount>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents ORDER BY created_at, id"
        ))
        .map(|row: AnyRow| agent_from_row(&row))
        .fetch_all(&self.read)
        .await
    }

    /// The enabled agents, by name (case-insensitively), then id.
    pub async fn team(&self) -> Result<Vec<AgentRef>, sqlx::Error> {
        sqlx::query(
            "SELECT id, name FROM agents WHERE disabled_at IS NULL
             ORDER BY lower(name), name, id",
        )
        .map(|row: AnyRow| AgentRef {
            id: row.get("id"),
            name: row.get("name"),
        })
        .fetch_all(&self.read)
        .await
    }

    /// Whether any admin account exists (none: the first must be created).
    pub async fn has_admin(&self) -> Result<bool, sqlx::Error> {
        let exists: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM agents WHERE role = 'admin') THEN 1 ELSE 0 END",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(exists != 0)
    }

    /// Disables (at `now`, keeping an earlier time if already disabled) or
    /// enables an agent. Disabling deletes all its sessions, in the same
    /// transaction. Returns the agent as it now stands and the ids of the
    /// sessions deleted, or `None` if there is no such agent.
    pub async fn set_agent_disabled(
        &self,
        id: &str,
        disabled: bool,
        now: i64,
    ) -> Result<Option<(AgentAccount, Vec<String>)>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        let sql = if disabled {
            format!(
                "UPDATE agents SET disabled_at = coalesce(disabled_at, $1), updated_at = $1
                 WHERE id = $2 RETURNING {AGENT_COLUMNS}"
            )
        } else {
            format!(
                "UPDATE agents SET disabled_at = NULL, updated_at = $1
                 WHERE id = $2 RETURNING {AGENT_COLUMNS}"
            )
        };
        let Some(account) = sqlx::query(&sql)
            .bind(now)
            .bind(id)
            .map(|row: AnyRow| agent_from_row(&row))
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let revoked = if disabled {
            sqlx::query_scalar("DELETE FROM agent_sessions WHERE agent_id = $1 RETURNING id")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        Ok(Some((account, revoked)))
    }

    /// Replaces an agent's password hash and deletes every session of it
    /// but `keep_session`, in one transaction; returns the ids deleted.
    pub async fn set_password(
        &self,
        agent_id: &str,
        password_hash: &str,
        keep_session: &str,
        now: i64,
    ) -> Result<Vec<String>, sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE agents SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(password_hash)
            .bind(now)
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        let revoked = sqlx::query_scalar(
            "DELETE FROM agent_sessions WHERE agent_id = $1 AND id != $2 RETURNING id",
        )
        .bind(agent_id)
        .bind(keep_session)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Stores a new session (and forgets the agent's expired ones).
    pub async fn insert_session(
        &self,
        id: &str,
        token_hash: &[u8],
        agent_id: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.write.begin().await?;
        sqlx::query("DELETE FROM agent_sessions WHERE agent_id = $1 AND expires_at <= $2")
            .bind(agent_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO agent_sessions (id, token_hash, agent_id, created_at, last_seen_at, expires_at)
             VALUES ($1, $2, $3, $4, $4, $4 + $5)",
        )
        .bind(id)
        .bind(token_hash)
        .bind(agent_id)
        .bind(now)
        .bind(SESSION_IDLE_MS.min(SESSION_MAX_MS))
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The unexpired session of this token hash, if its agent is enabled.
    pub async fn session_by_token(
        &self,
        token_hash: &[u8],
        now: i64,
    ) -> Result<Option<SessionRecord>, sqlx::Error> {
        sqlx::query(
            "SELECT s.id AS session_id, s.last_seen_at,
                    a.id, a.email, a.name, a.role, a.created_at, a.disabled_at
             FROM agent_sessions s JOIN agents a ON a.id = s.agent_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .map(|row: AnyRow| SessionRecord {
            id: row.get("session_id"),
            last_seen_at: row.get("last_seen_at"),
            agent: agent_from_row(&row),
        })
        .fetch_optional(&self.read)
        .await
    }

    /// Whether the session still exists, is unexpired and its agent enabled.
    pub async fn session_is_active(&self, id: &str, now: i64) -> Result<bool, sqlx::Error> {
        let active: i64 = sqlx::query_scalar(
            "SELECT CASE WHEN EXISTS (
                 SELECT 1 FROM agent_sessions s JOIN agents a ON a.id = s.agent_id
                 WHERE s.id = $1 AND s.expires_at > $2 AND a.disabled_at IS NULL)
             THEN 1 ELSE 0 END",
        )
        .bind(id)
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        Ok(active != 0)
    }

    /// Records use of a session: its idle expiry slides forward, never past
    /// the absolute limit from its creation.
    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE agent_sessions SET last_seen_at = $1, expires_at = CASE WHEN created_at + $2 < $1 + $3 THEN created_at + $2 ELSE $1 + $3 END
             WHERE id = $4",
        )
        .bind(now)
        .bind(SESSION_MAX_MS)
        .bind(SESSION_IDLE_MS)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Deletes one session (logout).
    pub async fn delete_session(&self, id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM agent_sessions WHERE id = $1")
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }
}

fn agent_from_row(row: &AnyRow) -> AgentAccount {
    AgentAccount {
        id: row.get("id"),
        email: row.get("email"),
        name: row.get("name"),
        // The schema's CHECK constraint admits only the two roles; anything
        // else gets the lesser one.
        role: Role::parse(row.get("role")).unwrap_or(Role::Agent),
        created_at: row.get("created_at"),
        disabled_at: row.get("disabled_at"),
    }
}

fn agent_record_from_row(row: &AnyRow) -> AgentRecord {
    AgentRecord {
        account: agent_from_row(row),
        password_hash: row.get("password_hash"),
    }
}
