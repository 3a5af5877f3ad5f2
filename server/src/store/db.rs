//! The two engines behind one set of SQL: SQLite (a file, the default) and
//! PostgreSQL (shared by several instances), both through sqlx's `Any`
//! driver. Every statement in the store is written once, in the SQL both
//! understand: `$1`-style placeholders, `CASE` instead of scalar `min`/`max`,
//! integers (0/1) for flags, `CASE WHEN EXISTS … THEN 1 ELSE 0 END` for
//! tests of existence. Where the engines really differ (full-text search,
//! row locks, notifications) the store asks [`Backend`].

use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Executor};

use crate::config::Database;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections of the read pool per instance, unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(database: &Database) -> Backend {
        match database {
            Database::Sqlite(_) => Backend::Sqlite,
            Database::Postgres(_) => Backend::Postgres,
        }
    }

    /// The migrations of this engine (each has its own folder).
    pub fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Appended to a `SELECT` whose rows a worker claims: other instances
    /// skip them rather than wait (SQLite has one writer; nothing to do).
    pub fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// The case-insensitive `LIKE` (SQLite's is, for ASCII).
    pub fn ilike(self) -> &'static str {
        match self {
            Backend::Sqlite => "LIKE",
            Backend::Postgres => "ILIKE",
        }
    }
}

/// The writers' pool (one connection: writes are serialised here, as the
/// store's doc explains) and the readers' pool, migrated.
pub async fn connect(
    database: &Database,
    max_connections: u32,
) -> Result<(AnyPool, AnyPool, Backend), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of(database);
    let (write, read) = match database {
        Database::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
            let base = SqliteConnectOptions::new().filename(path);
            let url = |options: SqliteConnectOptions| -> Result<AnyConnectOptions, sqlx::Error> {
                options.to_url_lossy().as_str().parse()
            };
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // WAL: readers never wait for the writer; FULL: a
                        // commit is on disk before it returns.
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        Ok(())
                    })
                })
                .connect_with(url(base.clone().create_if_missing(true))?)
                .await?;
            let read = AnyPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        Ok(())
                    })
                })
                .connect_with(url(base.read_only(true))?)
                .await?;
            (write, read)
        }
        Database::Postgres(url) => {
            let options: AnyConnectOptions = url.parse()?;
            // One connection first, so that a server that cannot be reached
            // (or refuses the credentials) is reported as such, not as a
            // pool that timed out.
            let probe = <sqlx::AnyConnection as sqlx::Connection>::connect_with(&options).await?;
            sqlx::Connection::close(probe).await?;
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await?;
            let read = AnyPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            (write, read)
        }
    };
    backend.migrator().run(&write).await?;
    Ok((write, read, backend))
}

/// A statement put together piece by piece, with `$n` placeholders (sqlx's
/// `QueryBuilder` writes `?` for `Any`, which PostgreSQL does not accept).
pub struct SqlBuilder<'q> {
    sql: String,
    args: sqlx::any::AnyArguments<'q>,
    count: usize,
}

impl<'q> SqlBuilder<'q> {
    pub fn new(sql: impl Into<String>) -> Self {
        SqlBuilder {
            sql: sql.into(),
            args: sqlx::any::AnyArguments::default(),
            count: 0,
        }
    }

    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        let _ = write!(self.sql, "{sql}");
        self
    }

    /// Appends the next placeholder and binds `value` to it.
    pub fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'q + sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        use sqlx::Arguments;
        self.count += 1;
        let count = self.count;
        self.push(format_args!("${count}"));
        // Encoding a string, an integer or bytes for `Any` cannot fail.
        self.args
            .add(value)
            .expect("a value of a type the Any driver encodes");
        self
    }

    /// The statement's text and its arguments, for `sqlx::query_with`.
    pub fn build(self) -> (String, sqlx::any::AnyArguments<'q>) {
        (self.sql, self.args)
    }
}

/// One connection of its own to an already migrated database (for a
/// background job that must not queue behind the store's writer).
pub async fn connect_one(database: &Database) -> Result<AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let options: AnyConnectOptions = match database {
        Database::Sqlite(path) => SqliteConnectOptions::new()
            .filename(path)
            .to_url_lossy()
            .as_str()
            .parse()?,
        Database::Postgres(url) => url.parse()?,
    };
    let sqlite = matches!(database, Database::Sqlite(_));
    AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}
