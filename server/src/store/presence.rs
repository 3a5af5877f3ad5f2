//! Presence rows (see [`crate::presence`]): who has a stream open, per
//! instance, for the instances that did not open it.

use super::Store;

impl Store {
    /// `party` has a stream open on `instance`, as of `now`.
    pub async fn presence_here(
        &self,
        party: &str,
        instance: &str,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO presence (party, instance, seen_at) VALUES ($1, $2, $3)
             ON CONFLICT (party, instance) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(party)
        .bind(instance)
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// `party` has no stream open on `instance` any more.
    pub async fn presence_gone(&self, party: &str, instance: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM presence WHERE party = $1 AND instance = $2")
            .bind(party)
            .bind(instance)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// Whether some instance saw `party` here after `since`.
    pub async fn presence_seen(&self, party: &str, since: i64) -> Result<bool, sqlx::Error> {
        let found: i64 =
            sqlx::query_scalar("SELECT count(*) FROM presence WHERE party = $1 AND seen_at > $2")
                .bind(party)
                .bind(since)
                .fetch_one(&self.read)
                .await?;
        Ok(found > 0)
    }

    /// The writers' pool (one connection on SQLite), for a job that must
    /// write through the same connection as the store.
    pub fn writer(&self) -> &sqlx::AnyPool {
        &self.write
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> super::Backend {
        self.backend
    }
}
