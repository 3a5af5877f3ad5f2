//! Typed configuration, read from command-line flags or `MESSENGER_*`
//! environment variables (flags win). `messenger-server --help` lists it all.
//!
//! Without a subcommand the program serves ([`Config`]); `create-admin`
//! creates an admin account in the database ([`CreateAdmin`]); `backup`
//! copies the SQLite database while the server runs ([`BackupArgs`]);
//! `copy-to-postgres` copies it into PostgreSQL ([`CopyToPostgresArgs`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand};

mod file;

/// The command line: serve (the default), or a subcommand.
#[derive(Parser, Debug)]
#[command(
    name = "messenger-server",
    version,
    about = "Asynchronous web messenger server",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: Config,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create an admin account (the first one, say) and print its id.
    ///
    /// The password comes from MESSENGER_ADMIN_PASSWORD, else from the first
    /// line of standard input; at least 12 characters.
    CreateAdmin(CreateAdmin),

    /// Copy the SQLite database to a new file, online: the server may keep
    /// running and writing. Prints the backup's path and size.
    Backup(BackupArgs),

    /// Copy a SQLite database into a new, empty PostgreSQL database (for a
    /// site that grows to several instances). Stop the server first. Prints
    /// the row counts of every table on both sides.
    CopyToPostgres(CopyToPostgresArgs),
}

#[derive(Args, Debug)]
pub struct CopyToPostgresArgs {
    /// The SQLite database to copy (a path, or `sqlite://PATH`), migrated to
    /// this version of the server; only read.
    #[arg(long)]
    pub from: Database,

    /// The PostgreSQL database to copy into: `postgres://user@host:5432/name`
    /// (the password may be in the URL, or in PGPASSWORD or ~/.pgpass). It is
    /// migrated, and must hold no data.
    #[arg(long)]
    pub to: Database,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The database to copy: a SQLite file path (or `sqlite://PATH`), as the
    /// server's `--database`. (PostgreSQL: use pg_dump.)
    #[arg(
        long,
        env = "MESSENGER_DATABASE",
        default_value = "data/messenger.db",
        hide_env_values = true
    )]
    pub database: Database,

    /// The backup file to write; it must not exist yet.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Args, Debug)]
pub struct CreateAdmin {
    /// The admin's email address, used to sign in.
    #[arg(long)]
    pub email: String,

    /// The admin's name, as other agents see it.
    #[arg(long)]
    pub name: String,

    /// The database: a SQLite file path (or `sqlite://PATH`), or a
    /// PostgreSQL URL (`postgres://user:password@host:5432/name`); created
    /// and migrated if needed.
    #[arg(
        long,
        env = "MESSENGER_DATABASE",
        default_value = "data/messenger.db",
        hide_env_values = true
    )]
    pub database: Database,
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "messenger-server",
    version,
    about = "Asynchronous web messenger server"
)]
pub struct Config {
    /// Address the API, the widget and its loader are served on.
    #[arg(long, env = "MESSENGER_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// The database: a SQLite file path (or `sqlite://PATH`), created with
    /// its folder if missing; or a PostgreSQL URL
    /// (`postgres://user:password@host:5432/name`) for several instances.
    /// Migrated on start.
    #[arg(
        long,
        env = "MESSENGER_DATABASE",
        default_value = "data/messenger.db",
        hide_env_values = true
    )]
    pub database: Database,

    /// Folder of the built widget (Trunk's `dist/`): `widget.js` and the frame app.
    #[arg(long, env = "MESSENGER_ASSETS", default_value = "dist")]
    pub assets: PathBuf,

    /// A key that authenticates the agent API (`Authorization: Bearer KEY`),
    /// at least 16 characters: a bootstrap for the first integration. Admins
    /// create and revoke the integrations' own keys in the inbox; those work
    /// with or without this one.
    #[arg(long, env = "MESSENGER_AGENT_API_KEY", hide_env_values = true)]
    pub agent_api_key: Option<Secret>,

    /// Origins (`https://shop.example`) allowed to embed the default site's
    /// widget and call the customer API from their pages. Comma-separated.
    /// Seeds the default site's list at start while that list is empty;
    /// afterwards admins edit it (and other sites') in the inbox.
    #[arg(long, env = "MESSENGER_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<Origin>,

    /// Public base URL of this server as browsers reach it (used in the demo
    /// page's script tag). Defaults to `http://ADDR`.
    #[arg(long, env = "MESSENGER_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Also serve a demo host page embedding the widget on this address (a
    /// different origin than the API, as on a real customer site).
    #[arg(long, env = "MESSENGER_DEMO_ADDR")]
    pub demo_addr: Option<SocketAddr>,

    /// Most concurrent sends stored in one commit (group commit: they share
    /// one disk flush), 1 to 4096. 1 commits every message on its own.
    #[arg(
        long,
        env = "MESSENGER_WRITE_BATCH",
        default_value_t = crate::store::DEFAULT_WRITE_BATCH as u32,
        value_parser = clap::value_parser!(u32).range(1..=4096)
    )]
    pub write_batch: u32,

    /// Database connections for reading, per instance (writes use one more).
    /// With PostgreSQL, keep instances × (this + 3) below the server's
    /// max_connections (the listener and the retention job use one each).
    #[arg(
        long,
        env = "MESSENGER_DATABASE_MAX_CONNECTIONS",
        default_value_t = crate::store::db::DEFAULT_MAX_CONNECTIONS,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub database_max_connections: u32,

    #[command(flatten)]
    pub mail: MailConfig,

    #[command(flatten)]
    pub ops: OpsConfig,
    /// Delete conversations closed more than this many days ago, with their
    /// messages, notes and device tokens (and customers left with nothing,
    /// unless identified), checked hourly. Off unless set.
    #[arg(
        long,
        env = "MESSENGER_RETENTION_DAYS",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub retention_days: Option<u32>,

    /// The clock (tests use a manual one); not a flag.
    #[arg(skip)]
    pub clock: crate::clock::Clock,
}

/// Operations: the configuration file, logs, metrics and shutdown.
#[derive(Args, Debug, Clone)]
pub struct OpsConfig {
    /// A TOML file of options, keyed by their long flag names
    /// (`addr = "0.0.0.0:8080"`, `allowed-origins = ["https://a"]`).
    /// Flags and environment variables win over it; unknown keys are an error.
    #[arg(long, env = "MESSENGER_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log lines as human-readable `text` or as one JSON object per line
    /// (`json`), on standard error.
    #[arg(long, env = "MESSENGER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// What to log, as a filter (`info`, `debug`, `info,messenger_server=debug`).
    /// Default: RUST_LOG if set, else `info,sqlx=warn`.
    #[arg(long, env = "MESSENGER_LOG_LEVEL")]
    pub log_level: Option<String>,

    /// Also serve Prometheus metrics at `/metrics` on this address (keep it
    /// private: not behind the public proxy). Off by default.
    #[arg(long, env = "MESSENGER_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// On SIGTERM or Ctrl-C the server stops accepting, ends open streams
    /// (clients reconnect) and lets requests in flight finish; it exits at
    /// the latest this many seconds after the signal.
    #[arg(long, env = "MESSENGER_SHUTDOWN_TIMEOUT_SECS", default_value_t = DEFAULT_SHUTDOWN_TIMEOUT_SECS)]
    pub shutdown_timeout_secs: u64,
}

pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 20;
/// The log filter when neither `--log-level` nor RUST_LOG says.
pub const DEFAULT_LOG_LEVEL: &str = "info,sqlx=warn";

/// How log lines are written.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl OpsConfig {
    /// The defaults: no file, text logs, no metrics.
    pub fn for_tests() -> Self {
        OpsConfig {
            config: None,
            log_format: LogFormat::Text,
            log_level: None,
            metrics_addr: None,
            shutdown_timeout_secs: DEFAULT_SHUTDOWN_TIMEOUT_SECS,
        }
    }
}

/// Email: follow-up of missed replies, resume links and agent notices.
/// Without `--smtp-url` nothing is sent (mail is still queued, and goes out
/// once an SMTP server is configured and the server restarted).
#[derive(Args, Debug, Clone)]
pub struct MailConfig {
    /// SMTP server to send through: `smtp://host:25` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465` (TLS).
    #[arg(long, env = "MESSENGER_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// The sender of every email, `Name <address>` or `address`.
    #[arg(long, env = "MESSENGER_MAIL_FROM", default_value = DEFAULT_MAIL_FROM)]
    pub mail_from: String,

    /// The page of your site (with the widget on it) that links in emails
    /// open. Default: the page where the customer's conversation started.
    #[arg(long, env = "MESSENGER_SITE_URL")]
    pub site_url: Option<String>,

    /// Seconds an agent's reply may go unseen by an absent customer before
    /// it is emailed; replies in the meantime go in the same email.
    #[arg(long, env = "MESSENGER_FOLLOWUP_DELAY_SECS", default_value_t = DEFAULT_FOLLOWUP_DELAY_SECS)]
    pub followup_delay_secs: u32,

    /// Seconds a new customer message waits before agents who are not in
    /// the inbox are emailed; messages in the meantime go in one email.
    #[arg(long, env = "MESSENGER_AGENT_NOTIFY_DELAY_SECS", default_value_t = DEFAULT_AGENT_NOTIFY_DELAY_SECS)]
    pub agent_notify_delay_secs: u32,

    /// Seconds a resume link works (once).
    #[arg(long, env = "MESSENGER_RESUME_LINK_TTL_SECS", default_value_t = DEFAULT_RESUME_LINK_TTL_SECS)]
    pub resume_link_ttl_secs: u32,
}

pub const DEFAULT_MAIL_FROM: &str = "Support <support@localhost>";
pub const DEFAULT_FOLLOWUP_DELAY_SECS: u32 = 300;
pub const DEFAULT_AGENT_NOTIFY_DELAY_SECS: u32 = 120;
pub const DEFAULT_RESUME_LINK_TTL_SECS: u32 = 86_400;

impl MailConfig {
    /// The defaults, with no SMTP server.
    pub fn for_tests() -> Self {
        MailConfig {
            smtp_url: None,
            mail_from: DEFAULT_MAIL_FROM.into(),
            site_url: None,
            followup_delay_secs: DEFAULT_FOLLOWUP_DELAY_SECS,
            agent_notify_delay_secs: DEFAULT_AGENT_NOTIFY_DELAY_SECS,
            resume_link_ttl_secs: DEFAULT_RESUME_LINK_TTL_SECS,
        }
    }
}

/// An SMTP server URL, which may carry a password: `Debug` hides it.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmtpUrl(<redacted>)")
    }
}

impl FromStr for SmtpUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if !(s.starts_with("smtp://") || s.starts_with("smtps://")) {
            return Err("an SMTP URL starts with smtp:// or smtps://".into());
        }
        Ok(SmtpUrl(s.to_owned()))
    }
}

/// A secret whose `Debug` never shows the value, so it cannot end up in logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.chars().count() < 16 {
            return Err("must be at least 16 characters long".into());
        }
        Ok(Secret(s.to_owned()))
    }
}

/// Where the data lives: the scheme of `--database` chooses the engine.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (the default, for one server).
    Sqlite(PathBuf),
    /// A PostgreSQL URL, shared by any number of instances. It may carry a
    /// password: `Debug` and `Display` hide it.
    Postgres(String),
}

impl From<PathBuf> for Database {
    fn from(path: PathBuf) -> Self {
        Database::Sqlite(path)
    }
}

impl Database {
    /// The SQLite file, if that is the engine.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match self {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }
}

impl FromStr for Database {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Database::Postgres(s.to_owned()));
        }
        if let Some(path) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("sqlite://PATH needs a file path".into());
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if s.contains("://") {
            return Err(format!(
                "{:?}: the database is a SQLite file path, sqlite://PATH or postgres://…",
                s.split("://").next().unwrap_or_default()
            ));
        }
        if s.is_empty() {
            return Err("the database path is empty".into());
        }
        Ok(Database::Sqlite(PathBuf::from(s)))
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "{}", path.display()),
            // scheme://user:password@host… → scheme://user@host…
            Database::Postgres(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
                // The authority ends at the first `/`; its user part at the
                // last `@` (a password may hold `@`).
                let (authority, path) = match rest.find('/') {
                    Some(i) => rest.split_at(i),
                    None => (rest, ""),
                };
                let rest = match authority.rsplit_once('@') {
                    Some((user, host)) => format!(
                        "{}@{host}{path}",
                        user.split(':').next().unwrap_or_default()
                    ),
                    None => rest.to_owned(),
                };
                let rest = rest.split('?').next().unwrap_or_default();
                write!(f, "{scheme}://{rest}")
            }
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Database({self})")
    }
}

/// A web origin: `scheme://host[:port]`, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_end_matches('/');
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or_else(|| format!("{s:?}: an origin starts with http:// or https://"))?;
        let valid = !rest.is_empty()
            && rest.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !valid {
            return Err(format!(
                "{s:?}: an origin is scheme://host[:port], without path, query or spaces"
            ));
        }
        Ok(Origin(s.to_ascii_lowercase()))
    }
}

impl Config {
    /// A configuration for tests and embedding: everything at its default
    /// except the given database file and assets folder, on a free port.
    pub fn for_tests(database: PathBuf, assets: PathBuf) -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: Database::Sqlite(database),
            assets,
            agent_api_key: None,
            allowed_origins: Vec::new(),
            public_url: None,
            demo_addr: None,
            write_batch: crate::store::DEFAULT_WRITE_BATCH as u32,
            database_max_connections: crate::store::db::DEFAULT_MAX_CONNECTIONS,
            mail: MailConfig::for_tests(),
            ops: OpsConfig::for_tests(),
            retention_days: None,
            clock: crate::clock::Clock::system(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s: Secret = "a-very-secret-agent-key".parse().unwrap();
        assert!(!format!("{s:?}").contains("secret-agent"));
    }

    #[test]
    fn the_database_url_s_scheme_chooses_the_engine_and_hides_the_password() {
        let file: Database = "data/messenger.db".parse().unwrap();
        assert_eq!(file, Database::Sqlite(PathBuf::from("data/messenger.db")));
        let url: Database = "sqlite:///var/lib/messenger/m.db?mode=rwc".parse().unwrap();
        assert_eq!(
            url,
            Database::Sqlite(PathBuf::from("/var/lib/messenger/m.db"))
        );
        let pg: Database = "postgres://app:s3cret-pass@db.internal:5432/messenger?sslmode=require"
            .parse()
            .unwrap();
        assert!(matches!(pg, Database::Postgres(_)));
        assert_eq!(pg.to_string(), "postgres://app@db.internal:5432/messenger");
        assert!(!format!("{pg:?}").contains("s3cret"));
        let at: Database = "postgres://app:p@ss@db.internal/messenger".parse().unwrap();
        assert_eq!(at.to_string(), "postgres://app@db.internal/messenger");
        assert!("mysql://x/y".parse::<Database>().is_err());
    }

    #[test]
    fn short_agent_keys_are_refused() {
        assert!("short".parse::<Secret>().is_err());
    }

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        let o: Origin = "https://Shop.Example:8443/".parse().unwrap();
        assert_eq!(o.as_str(), "https://shop.example:8443");
        assert!("https://shop.example/path".parse::<Origin>().is_err());
        assert!("shop.example".parse::<Origin>().is_err());
    }

    #[test]
    fn the_write_batch_defaults_to_group_commit_and_is_at_least_one() {
        let config = Config::try_parse_from(["messenger-server"]).unwrap();
        assert_eq!(config.write_batch, 256);
        let off = Config::try_parse_from(["messenger-server", "--write-batch", "1"]).unwrap();
        assert_eq!(off.write_batch, 1);
        assert!(Config::try_parse_from(["messenger-server", "--write-batch", "0"]).is_err());
    }

    #[test]
    fn without_a_subcommand_the_command_line_is_the_server_s() {
        let cli = Cli::try_parse_from([
            "messenger-server",
            "--addr",
            "127.0.0.1:9000",
            "--write-batch",
            "1",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.addr.port(), 9000);
        assert_eq!(cli.serve.write_batch, 1);
    }

    #[test]
    fn create_admin_takes_an_email_a_name_and_a_database() {
        let cli = Cli::try_parse_from([
            "messenger-server",
            "create-admin",
            "--email",
            "ann@example.com",
            "--name",
            "Ann",
            "--database",
            "x.db",
        ])
        .unwrap();
        let Some(Command::CreateAdmin(admin)) = cli.command else {
            panic!("expected create-admin");
        };
        assert_eq!(admin.email, "ann@example.com");
        assert_eq!(admin.database, Database::Sqlite(PathBuf::from("x.db")));
        assert!(
            Cli::try_parse_from(["messenger-server", "create-admin", "--name", "Ann"]).is_err()
        );
    }

    #[test]
    fn backup_takes_a_database_and_a_target_file() {
        let cli = Cli::try_parse_from([
            "messenger-server",
            "backup",
            "--database",
            "sqlite://x.db",
            "--to",
            "/backups/x.db",
        ])
        .unwrap();
        let Some(Command::Backup(backup)) = cli.command else {
            panic!("expected backup");
        };
        assert_eq!(backup.database, Database::Sqlite(PathBuf::from("x.db")));
        assert_eq!(backup.to, PathBuf::from("/backups/x.db"));
        assert!(Cli::try_parse_from(["messenger-server", "backup"]).is_err());
    }

    #[test]
    fn copy_to_postgres_takes_a_sqlite_file_and_a_postgres_url() {
        let cli = Cli::try_parse_from([
            "messenger-server",
            "copy-to-postgres",
            "--from",
            "data/messenger.db",
            "--to",
            "postgres://app@db:5432/messenger",
        ])
        .unwrap();
        let Some(Command::CopyToPostgres(copy)) = cli.command else {
            panic!("expected copy-to-postgres");
        };
        assert_eq!(
            copy.from,
            Database::Sqlite(PathBuf::from("data/messenger.db"))
        );
        assert_eq!(
            copy.to,
            Database::Postgres("postgres://app@db:5432/messenger".into())
        );
        assert!(
            Cli::try_parse_from(["messenger-server", "copy-to-postgres", "--from", "x.db"])
                .is_err()
        );
    }

    #[test]
    fn retention_is_off_unless_given_a_number_of_days() {
        let config = Config::try_parse_from(["messenger-server"]).unwrap();
        assert_eq!(config.retention_days, None);
        let on = Config::try_parse_from(["messenger-server", "--retention-days", "90"]).unwrap();
        assert_eq!(on.retention_days, Some(90));
        assert!(Config::try_parse_from(["messenger-server", "--retention-days", "0"]).is_err());
    }
}
