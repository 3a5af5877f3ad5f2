//! `messenger-server copy-to-postgres`: moves a site that outgrew one server
//! from its SQLite file to PostgreSQL, with everything in it (accounts and
//! their passwords, sessions, sites, conversations, messages with their
//! global positions, notes, API keys, customers and their tokens, the mail
//! queue), so that customers, agents and integrations carry on as before.
//!
//! The copy reads one snapshot of the SQLite file (a read transaction over a
//! read-only connection) and writes the target in ONE PostgreSQL transaction:
//! it lands whole or not at all. The target is migrated first and must hold
//! no data (its migrations' `default` site is replaced by the file's); both
//! must be at the same migration version, the one of this build. Tables are
//! copied in foreign-key order, in multi-row `INSERT`s, with their columns
//! matched by name (the engines' column orders differ); SQLite's full-text
//! index (`message_search`) is not copied: PostgreSQL indexes the messages
//! as they are inserted. Identity sequences (`mail_queue`, `resume_requests`)
//! are moved past the copied ids. At the end the rows of every table are
//! counted on both sides and must agree.
//!
//! The list of tables is [`TABLES`]; the copy refuses to run if either
//! database has a table it does not know, so a new migration cannot be
//! forgotten here silently.

use std::fmt;
use std::path::PathBuf;

use sqlx::any::{AnyConnectOptions, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection, Row};

use crate::config::Database;
use crate::store::db::{self, Backend, SqlBuilder};

/// Every table, parents before children (foreign-key order).
pub const TABLES: &[&str] = &[
    "sites",
    "site_settings",
    "agents",
    "agent_sessions",
    "api_keys",
    "customers",
    "conversations",
    "messages",
    "notes",
    "customer_tokens",
    "resume_links",
    "resume_requests",
    "unsubscribe_codes",
    "mail_queue",
    "message_positions",
    "job_leases",
    "presence",
];

/// Tables whose ids come from an identity sequence on PostgreSQL.
const IDENTITIES: &[&str] = &["mail_queue", "resume_requests"];

/// Most values bound in one `INSERT` (PostgreSQL allows 65535).
const MAX_BINDS: usize = 30_000;
/// Most rows in one `INSERT`.
const MAX_ROWS: usize = 1_000;

/// One table's rows in the SQLite file and, after the copy, in PostgreSQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: i64,
    pub target: i64,
}

/// What was copied.
#[derive(Debug, Clone)]
pub struct Copied {
    pub tables: Vec<TableCount>,
}

impl Copied {
    pub fn rows(&self) -> i64 {
        self.tables.iter().map(|t| t.target).sum()
    }
}

impl fmt::Display for Copied {
    /// A table of the row counts, one line per table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<20} {:>12} {:>12}", "table", "sqlite", "postgres")?;
        for t in &self.tables {
            writeln!(f, "{:<20} {:>12} {:>12}", t.table, t.source, t.target)?;
        }
        Ok(())
    }
}

/// Why nothing was copied.
#[derive(Debug)]
pub enum CopyError {
    /// `--from` is not a SQLite file.
    SourceNotSqlite(String),
    /// `--to` is not a PostgreSQL URL.
    TargetNotPostgres(String),
    NoSourceFile(PathBuf),
    /// The file has no migrations table: not a messenger database.
    NotAMessengerDatabase(PathBuf),
    /// The file is at an older migration version than this build's.
    SourceOlder {
        path: PathBuf,
        at: i64,
        latest: i64,
    },
    /// The file was migrated by a newer build.
    SourceNewer {
        path: PathBuf,
        at: i64,
        latest: i64,
    },
    /// The target is at another migration version than the file.
    VersionMismatch {
        source: i64,
        target: i64,
    },
    /// The target holds data already (what, in a few words).
    TargetNotEmpty {
        target: String,
        holds: String,
    },
    /// A table one of the databases has and this command does not know.
    UnknownTable {
        table: String,
        engine: &'static str,
    },
    /// A table's columns differ between the two databases.
    Columns {
        table: &'static str,
        detail: String,
    },
    /// The counts after the copy disagree (the copy was committed).
    CountMismatch(Vec<TableCount>),
    /// A database error, with what was being done.
    Database {
        doing: String,
        error: sqlx::Error,
    },
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyError::SourceNotSqlite(from) => write!(
                f,
                "--from {from} is not a SQLite file: give the path of the SQLite database (or sqlite://PATH)"
            ),
            CopyError::TargetNotPostgres(to) => write!(
                f,
                "--to {to} is not a PostgreSQL URL: give postgres://user@host:5432/name \
                 (the password may come from PGPASSWORD or ~/.pgpass)"
            ),
            CopyError::NoSourceFile(path) => {
                write!(f, "no SQLite database at {}", path.display())
            }
            CopyError::NotAMessengerDatabase(path) => write!(
                f,
                "{} is not a messenger database (it has no _sqlx_migrations table)",
                path.display()
            ),
            CopyError::SourceOlder { path, at, latest } => write!(
                f,
                "{} is at migration {at}, this messenger-server is at {latest}: start this \
                 messenger-server once on the SQLite file (--database {}) to migrate it, \
                 stop it, then copy again",
                path.display(),
                path.display()
            ),
            CopyError::SourceNewer { path, at, latest } => write!(
                f,
                "{} is at migration {at}, newer than this messenger-server ({latest}): copy \
                 with the messenger-server version that last ran on it",
                path.display()
            ),
            CopyError::VersionMismatch { source, target } => write!(
                f,
                "the SQLite file is at migration {source} but the PostgreSQL database at \
                 {target}: both must be at the same version"
            ),
            CopyError::TargetNotEmpty { target, holds } => write!(
                f,
                "{target} holds data already ({holds}): copy into a new, empty database; \
                 nothing was changed"
            ),
            CopyError::UnknownTable { table, engine } => write!(
                f,
                "the {engine} database has a table `{table}` that copy-to-postgres does not \
                 know: nothing was copied"
            ),
            CopyError::Columns { table, detail } => write!(
                f,
                "the columns of `{table}` differ between the two databases ({detail}): \
                 nothing was copied"
            ),
            CopyError::CountMismatch(counts) => {
                write!(f, "the row counts differ after the copy:")?;
                for t in counts.iter().filter(|t| t.source != t.target) {
                    write!(f, " {} sqlite {} postgres {};", t.table, t.source, t.target)?;
                }
                Ok(())
            }
            CopyError::Database { doing, error } => write!(f, "{doing}: {error}"),
        }
    }
}

impl std::error::Error for CopyError {}

/// Wraps a database error with what was being done.
fn doing(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> CopyError {
    let what = what.into();
    move |error| CopyError::Database { doing: what, error }
}

/// Copies the SQLite database `from` into the PostgreSQL database `to`
/// (migrated first, and empty), in one transaction, and compares the row
/// counts table by table.
pub async fn copy_to_postgres(from: &Database, to: &Database) -> Result<Copied, CopyError> {
    let Database::Sqlite(path) = from else {
        return Err(CopyError::SourceNotSqlite(from.to_string()));
    };
    if !matches!(to, Database::Postgres(_)) {
        return Err(CopyError::TargetNotPostgres(to.to_string()));
    }
    if !path.is_file() {
        return Err(CopyError::NoSourceFile(path.clone()));
    }
    sqlx::any::install_default_drivers();

    // The source: read-only, one snapshot for everything read below.
    let options: AnyConnectOptions = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .to_url_lossy()
        .as_str()
        .parse()
        .map_err(doing(format!("opening {}", path.display())))?;
    // Reading a table takes as long as writing it: not a slow statement.
    let options = options.disable_statement_logging();
    let mut source = AnyConnection::connect_with(&options)
        .await
        .map_err(doing(format!("opening {}", path.display())))?;
    let mut snapshot = source
        .begin()
        .await
        .map_err(doing("reading the SQLite file"))?;

    let source_version = sqlite_version(&mut snapshot, path).await?;
    let latest_sqlite = latest(Backend::Sqlite);
    if source_version < latest_sqlite {
        return Err(CopyError::SourceOlder {
            path: path.clone(),
            at: source_version,
            latest: latest_sqlite,
        });
    }
    if source_version > latest_sqlite {
        return Err(CopyError::SourceNewer {
            path: path.clone(),
            at: source_version,
            latest: latest_sqlite,
        });
    }
    let source_tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
           AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
           AND name <> '_sqlx_migrations'
           AND name <> 'message_search' AND name NOT LIKE 'message\\_search\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut *snapshot)
    .await
    .map_err(doing("listing the SQLite tables"))?;
    known_tables(&source_tables, "SQLite")?;

    // The target: migrated (as a server would on start), then checked.
    let (write, read, _) = db::connect(to, 1)
        .await
        .map_err(doing(format!("connecting to and migrating {to}")))?;
    read.close().await;
    let result = copy_into(&mut snapshot, &write, to, source_version).await;
    write.close().await;
    let _ = snapshot.rollback().await;
    let _ = source.close().await;
    result
}

/// The part of the copy that writes, over the migrated target.
async fn copy_into(
    snapshot: &mut AnyConnection,
    target: &sqlx::AnyPool,
    to: &Database,
    source_version: i64,
) -> Result<Copied, CopyError> {
    let target_version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(target)
            .await
            .map_err(doing("reading the PostgreSQL migrations"))?;
    let target_version = target_version.unwrap_or(0);
    if target_version != source_version {
        return Err(CopyError::VersionMismatch {
            source: source_version,
            target: target_version,
        });
    }
    let target_tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
           AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(target)
    .await
    .map_err(doing("listing the PostgreSQL tables"))?;
    known_tables(&target_tables, "PostgreSQL")?;

    let mut tx = target
        .begin()
        .await
        .map_err(doing("starting the PostgreSQL transaction"))?;
    // Nobody else writes these until the copy commits (a server started on
    // the target too early waits), so the emptiness checked holds.
    sqlx::query("LOCK TABLE sites, agents, customers, conversations IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .map_err(doing("locking the PostgreSQL tables"))?;
    refuse_data(&mut tx, to).await?;
    // What the migrations put in: replaced by the file's rows.
    for table in ["site_settings", "sites", "message_positions", "job_leases"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await
            .map_err(doing(format!("emptying {table}")))?;
    }

    let mut counts = Vec::new();
    for &table in TABLES {
        let columns = columns(snapshot, &mut tx, table).await?;
        let source_rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *snapshot)
            .await
            .map_err(doing(format!("counting {table} in the SQLite file")))?;
        copy_table(snapshot, &mut tx, table, &columns).await?;
        counts.push(TableCount {
            table,
            source: source_rows,
            target: 0,
        });
    }
    for table in IDENTITIES {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                           coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
        ))
        .execute(&mut *tx)
        .await
        .map_err(doing(format!("moving the id sequence of {table}")))?;
    }
    tx.commit()
        .await
        .map_err(doing("committing the copy into PostgreSQL"))?;

    for count in &mut counts {
        count.target = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", count.table))
            .fetch_one(target)
            .await
            .map_err(doing(format!("counting {} in PostgreSQL", count.table)))?;
    }
    if counts.iter().any(|t| t.source != t.target) {
        return Err(CopyError::CountMismatch(counts));
    }
    Ok(Copied { tables: counts })
}

/// The highest migration version this build knows for `backend`.
fn latest(backend: Backend) -> i64 {
    backend
        .migrator()
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// The migration version of the SQLite file.
async fn sqlite_version(
    snapshot: &mut AnyConnection,
    path: &std::path::Path,
) -> Result<i64, CopyError> {
    let has_migrations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *snapshot)
    .await
    .map_err(doing(format!("reading {}", path.display())))?;
    if has_migrations == 0 {
        return Err(CopyError::NotAMessengerDatabase(path.to_owned()));
    }
    let version: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(&mut *snapshot)
            .await
            .map_err(doing("reading the SQLite migrations"))?;
    Ok(version.unwrap_or(0))
}

/// Every table of a database must be one of [`TABLES`].
fn known_tables(tables: &[String], engine: &'static str) -> Result<(), CopyError> {
    match tables.iter().find(|t| !TABLES.contains(&t.as_str())) {
        Some(table) => Err(CopyError::UnknownTable {
            table: table.clone(),
            engine,
        }),
        None => Ok(()),
    }
}

/// Refuses a target with data: anything but the rows its migrations wrote
/// (the `default` site and its settings, the position counter at 0) and
/// job leases (which only say who runs a background pass).
async fn refuse_data(tx: &mut AnyConnection, to: &Database) -> Result<(), CopyError> {
    let mut holds = Vec::new();
    for &table in TABLES {
        let filter = match table {
            "sites" => " WHERE id <> 'default'",
            "site_settings" => " WHERE site_id <> 'default'",
            "message_positions" => " WHERE last <> 0",
            "job_leases" => continue,
            _ => "",
        };
        let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}{filter}"))
            .fetch_one(&mut *tx)
            .await
            .map_err(doing(format!("counting {table} in PostgreSQL")))?;
        if rows > 0 {
            holds.push(match table {
                "sites" | "site_settings" => format!("{table}: {rows} besides the default"),
                "message_positions" => format!("{table}: the counter past 0"),
                _ if rows == 1 => format!("{table}: 1 row"),
                _ => format!("{table}: {rows} rows"),
            });
        }
    }
    if holds.is_empty() {
        Ok(())
    } else {
        Err(CopyError::TargetNotEmpty {
            target: to.to_string(),
            holds: holds.join(", "),
        })
    }
}

/// How a column's values are carried over.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Integer,
    Bytes,
}

/// The columns of `table` (PostgreSQL's names and types), which must be
/// the SQLite table's columns too.
async fn columns(
    snapshot: &mut AnyConnection,
    target: &mut AnyConnection,
    table: &'static str,
) -> Result<Vec<(String, Kind)>, CopyError> {
    let target_columns: Vec<(String, String)> = sqlx::query(
        "SELECT column_name::text AS name, data_type::text AS type
         FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1
         ORDER BY ordinal_position",
    )
    .bind(table)
    .map(|row: AnyRow| (row.get("name"), row.get("type")))
    .fetch_all(&mut *target)
    .await
    .map_err(doing(format!(
        "reading the columns of {table} in PostgreSQL"
    )))?;
    let mut source_columns: Vec<String> =
        sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
            .bind(table)
            .fetch_all(&mut *snapshot)
            .await
            .map_err(doing(format!("reading the columns of {table} in SQLite")))?;
    let mut names: Vec<String> = target_columns.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    source_columns.sort();
    if names != source_columns {
        return Err(CopyError::Columns {
            table,
            detail: format!(
                "SQLite: {}; PostgreSQL: {}",
                source_columns.join(", "),
                names.join(", ")
            ),
        });
    }
    target_columns
        .into_iter()
        .map(|(name, data_type)| {
            let kind = match data_type.as_str() {
                "text" => Kind::Text,
                "bigint" | "integer" | "smallint" => Kind::Integer,
                "bytea" => Kind::Bytes,
                other => {
                    return Err(CopyError::Columns {
                        table,
                        detail: format!("{name} is of type {other}, which the copy cannot carry"),
                    });
                }
            };
            Ok((name, kind))
        })
        .collect()
}

/// One value read from SQLite, to bind in PostgreSQL.
enum Value {
    Text(Option<String>),
    Integer(Option<i64>),
    Bytes(Option<Vec<u8>>),
}

/// Streams the rows of `table` from the snapshot into the transaction, in
/// multi-row `INSERT`s.
async fn copy_table(
    snapshot: &mut AnyConnection,
    target: &mut AnyConnection,
    table: &'static str,
    columns: &[(String, Kind)],
) -> Result<(), CopyError> {
    use futures_core::Stream;
    use std::pin::Pin;

    let list = columns
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let per_insert = (MAX_BINDS / columns.len().max(1)).clamp(1, MAX_ROWS);
    let select = format!("SELECT {list} FROM {table}");
    let mut rows: Pin<Box<dyn Stream<Item = Result<AnyRow, sqlx::Error>> + Send + '_>> =
        sqlx::query(&select).fetch(&mut *snapshot);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_insert);
    loop {
        let row = std::future::poll_fn(|cx| rows.as_mut().poll_next(cx)).await;
        let row = match row {
            Some(row) => Some(row.map_err(doing(format!("reading {table} from SQLite")))?),
            None => None,
        };
        let done = row.is_none();
        if let Some(row) = row {
            batch.push(values(&row, table, columns)?);
        }
        if batch.len() == per_insert || (done && !batch.is_empty()) {
            insert(target, table, &list, std::mem::take(&mut batch)).await?;
        }
        if done {
            return Ok(());
        }
    }
}

/// The values of one SQLite row, typed as PostgreSQL's columns are.
fn values(
    row: &AnyRow,
    table: &'static str,
    columns: &[(String, Kind)],
) -> Result<Vec<Value>, CopyError> {
    columns
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| {
            let value = match kind {
                Kind::Text => row.try_get(i).map(Value::Text),
                Kind::Integer => row.try_get(i).map(Value::Integer),
                Kind::Bytes => row.try_get(i).map(Value::Bytes),
            };
            value.map_err(doing(format!("reading {table}.{name} from SQLite")))
        })
        .collect()
}

/// One multi-row `INSERT` of `rows` into `table`.
async fn insert(
    target: &mut AnyConnection,
    table: &'static str,
    list: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), CopyError> {
    let mut sql = SqlBuilder::new(format!("INSERT INTO {table} ({list}) VALUES "));
    for (i, row) in rows.into_iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" });
        for (j, value) in row.into_iter().enumerate() {
            if j > 0 {
                sql.push(", ");
            }
            match value {
                Value::Text(v) => sql.push_bind(v),
                Value::Integer(v) => sql.push_bind(v),
                Value::Bytes(v) => sql.push_bind(v),
            };
        }
        sql.push(")");
    }
    let (sql, args) = sql.build();
    sqlx::query_with(&sql, args)
        .execute(&mut *target)
        .await
        .map_err(doing(format!("writing {table} into PostgreSQL")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_the_migrations_is_copied() {
        // The copy also checks the live databases; this catches a table
        // added by a migration before any database is at hand.
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for migration in backend.migrator().iter() {
                let sql = migration.sql.to_lowercase();
                for line in sql.lines() {
                    let Some(rest) = line.trim().strip_prefix("create table ") else {
                        continue;
                    };
                    let name = rest
                        .trim_start_matches("if not exists ")
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .next()
                        .unwrap();
                    if name == "messages_new" {
                        continue; // renamed to messages (SQLite 0003)
                    }
                    assert!(
                        TABLES.contains(&name),
                        "migration {} creates {name}, which copy::TABLES lacks",
                        migration.version
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn only_a_sqlite_file_into_a_postgres_url() {
        let sqlite = Database::Sqlite("x.db".into());
        let postgres = Database::Postgres("postgres://u:secret@h/db".into());
        let err = copy_to_postgres(&postgres, &postgres).await.unwrap_err();
        assert!(matches!(err, CopyError::SourceNotSqlite(_)));
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = copy_to_postgres(&sqlite, &sqlite).await.unwrap_err();
        assert!(matches!(err, CopyError::TargetNotPostgres(_)));
        let err = copy_to_postgres(&Database::Sqlite("/nonexistent/m.db".into()), &postgres)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("no SQLite database at /nonexistent/m.db")
        );
    }
}
