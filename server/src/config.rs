//! Typed configuration, read from command-line flags or `MESSENGER_*`
//! environment variables (flags win). `messenger-server --help` lists it all.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;

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

    /// SQLite database file; created (with its folder) and migrated on start.
    #[arg(long, env = "MESSENGER_DATABASE", default_value = "data/messenger.db")]
    pub database: PathBuf,

    /// Folder of the built widget (Trunk's `dist/`): `widget.js` and the frame app.
    #[arg(long, env = "MESSENGER_ASSETS", default_value = "dist")]
    pub assets: PathBuf,

    /// Key that authenticates the agent API (`Authorization: Bearer KEY`), at
    /// least 16 characters. Without it the agent API refuses every request.
    #[arg(long, env = "MESSENGER_AGENT_API_KEY", hide_env_values = true)]
    pub agent_api_key: Option<Secret>,

    /// Origins (`https://shop.example`) allowed to call the API from their own
    /// pages (CORS) and to embed the widget's frame. Comma-separated. Empty:
    /// no CORS at all, and any site may embed the widget.
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
            database,
            assets,
            agent_api_key: None,
            allowed_origins: Vec::new(),
            public_url: None,
            demo_addr: None,
            write_batch: crate::store::DEFAULT_WRITE_BATCH as u32,
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
}
