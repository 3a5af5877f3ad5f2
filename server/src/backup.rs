//! `messenger-server backup`: an online, consistent copy of the SQLite
//! database, taken while the server runs and writes.
//!
//! The copy is SQLite's `VACUUM INTO` over a read-only connection of its
//! own: it reads one snapshot of the database (WAL mode lets the server go on
//! writing meanwhile) and writes it, compacted, to a new file. That file is
//! first written under a temporary name beside the target, flushed to disk
//! and checked (`PRAGMA integrity_check`); only then does it take the target's
//! name, which must be free: a backup never overwrites a file, and a crash
//! midway never leaves half a backup under the final name.
//!
//! PostgreSQL databases are backed up with PostgreSQL's own tools (`pg_dump`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::config::Database;

/// A backup written.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Why no backup was written.
#[derive(Debug)]
pub enum BackupError {
    /// The database is PostgreSQL (its URL, password hidden).
    Postgres(String),
    /// Something is at the target path already.
    TargetExists(PathBuf),
    /// No database file at the source path.
    NoDatabase(PathBuf),
    /// The copy failed its integrity check (what SQLite reported).
    Integrity(String),
    Io(std::io::Error),
    Database(sqlx::Error),
}

impl fmt::Display for BackupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupError::Postgres(url) => write!(
                f,
                "{url} is a PostgreSQL database: back it up with PostgreSQL's tools, e.g. \
                 `pg_dump --format=custom --file=messenger.dump \"$MESSENGER_DATABASE\"` \
                 (restore with pg_restore); this command copies SQLite files"
            ),
            BackupError::TargetExists(path) => write!(
                f,
                "{} exists already: a backup never overwrites a file; choose a new name",
                path.display()
            ),
            BackupError::NoDatabase(path) => {
                write!(f, "no database file at {}", path.display())
            }
            BackupError::Integrity(report) => {
                write!(f, "the copy failed its integrity check: {report}")
            }
            BackupError::Io(err) => write!(f, "{err}"),
            BackupError::Database(err) => write!(f, "database: {err}"),
        }
    }
}

impl std::error::Error for BackupError {}

impl From<std::io::Error> for BackupError {
    fn from(err: std::io::Error) -> Self {
        BackupError::Io(err)
    }
}

impl From<sqlx::Error> for BackupError {
    fn from(err: sqlx::Error) -> Self {
        BackupError::Database(err)
    }
}

/// Copies the database to `to`, a path where nothing is yet.
pub async fn backup(database: &Database, to: &Path) -> Result<Written, BackupError> {
    let source = match database {
        Database::Sqlite(path) => path,
        Database::Postgres(_) => return Err(BackupError::Postgres(database.to_string())),
    };
    if to.symlink_metadata().is_ok() {
        return Err(BackupError::TargetExists(to.to_owned()));
    }
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.clone()));
    }
    let name = to
        .file_name()
        .ok_or_else(|| std::io::Error::other(format!("{} is not a file name", to.display())))?;
    let dir = match to.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let partial = dir.join(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    // A partial file of an earlier run of this same process id is stale.
    let _ = std::fs::remove_file(&partial);

    let result = write_checked(source, &partial).await;
    let result = match result {
        Ok(()) => publish(&partial, to),
        Err(err) => Err(err),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result?;
    let bytes = std::fs::metadata(to)?.len();
    Ok(Written {
        path: to.to_owned(),
        bytes,
    })
}

/// `VACUUM INTO partial`, flushed to disk and checked.
async fn write_checked(source: &Path, partial: &Path) -> Result<(), BackupError> {
    let options = SqliteConnectOptions::new()
        .filename(source)
        .read_only(true)
        // The server's writer holds the lock for a commit at a time; a
        // snapshot read waits for none of them, but opening may.
        .busy_timeout(Duration::from_secs(30));
    let mut connection = SqliteConnection::connect_with(&options).await?;
    let into = partial
        .to_str()
        .ok_or_else(|| std::io::Error::other("the backup path is not valid UTF-8"))?;
    let copied = sqlx::query("VACUUM INTO $1")
        .bind(into)
        .execute(&mut connection)
        .await;
    connection.close().await?;
    copied?;

    // VACUUM INTO does not sync what it wrote.
    std::fs::File::open(partial)?.sync_all()?;

    let options = SqliteConnectOptions::new()
        .filename(partial)
        .read_only(true);
    let mut copy = SqliteConnection::connect_with(&options).await?;
    let report: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut copy)
        .await?;
    copy.close().await?;
    if report != ["ok"] {
        return Err(BackupError::Integrity(report.join("; ")));
    }
    Ok(())
}

/// Gives the finished copy its final name, unless that name was taken in the
/// meantime, and makes the new name durable.
fn publish(partial: &Path, to: &Path) -> Result<(), BackupError> {
    // A hard link fails if the target exists (a rename would replace it).
    match std::fs::hard_link(partial, to) {
        Ok(()) => std::fs::remove_file(partial)?,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::TargetExists(to.to_owned()));
        }
        // Some file systems have no hard links: check, then rename.
        Err(_) => {
            if to.symlink_metadata().is_ok() {
                return Err(BackupError::TargetExists(to.to_owned()));
            }
            std::fs::rename(partial, to)?;
        }
    }
    #[cfg(unix)]
    {
        let dir = match to.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
