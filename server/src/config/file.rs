//! The optional configuration file (`--config FILE`, TOML): its keys are the
//! long flag names (`addr = "0.0.0.0:8080"`, `allowed-origins = [...]`).
//!
//! Its values become the defaults of clap's arguments, so clap itself keeps
//! the precedence: flags, then environment variables, then the file, then
//! the built-in defaults. The keys are looked up in clap's own description of
//! the command line, so the file accepts exactly the flags there are.

use std::ffi::OsString;
use std::path::Path;

use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory, FromArgMatches};

use super::Cli;

impl Cli {
    /// Reads the command line, the environment and the `--config` file (if
    /// any), or prints the error or help and exits, as `Cli::parse` does.
    pub fn load() -> Cli {
        Cli::try_load_from(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// [`Cli::load`] over the given arguments (the first is the program).
    pub fn try_load_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let command = Cli::command();
        let matches = command.clone().try_get_matches_from(&args)?;
        let Some(path) = matches.get_one::<std::path::PathBuf>("config") else {
            return Cli::from_arg_matches(&matches);
        };
        let mut command = with_file_defaults(command, path)?;
        let matches = command.try_get_matches_from_mut(&args)?;
        Cli::from_arg_matches(&matches).map_err(|err| err.format(&mut command))
    }
}

/// `command` with the values of the file at `path` as its defaults.
fn with_file_defaults(
    mut command: clap::Command,
    path: &Path,
) -> Result<clap::Command, clap::Error> {
    let fail = |command: &mut clap::Command, kind, message: String| {
        command.error(
            kind,
            format!("configuration file {}: {message}", path.display()),
        )
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) => return Err(fail(&mut command, ErrorKind::Io, err.to_string())),
    };
    let table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(err) => return Err(fail(&mut command, ErrorKind::InvalidValue, err.to_string())),
    };
    for (key, value) in table {
        // Flags without a value (`--help`) and `config` itself are no keys.
        let found = command
            .get_arguments()
            .find(|arg| {
                arg.get_long() == Some(key.as_str())
                    && key != "config"
                    && arg.get_action().takes_values()
            })
            .map(|arg| {
                let many = matches!(arg.get_action(), ArgAction::Append);
                (arg.get_id().clone(), many)
            });
        let Some((id, many)) = found else {
            return Err(fail(
                &mut command,
                ErrorKind::UnknownArgument,
                format!("unknown key `{key}` (the keys are the long flag names of `--help`)"),
            ));
        };
        let values = match file_values(&value, many) {
            Ok(values) => values,
            Err(message) => {
                return Err(fail(
                    &mut command,
                    ErrorKind::InvalidValue,
                    format!("`{key}`: {message}"),
                ));
            }
        };
        command = command.mut_arg(id, |arg| {
            let secret = arg.is_hide_env_values_set();
            arg.default_values(values).hide_default_value(secret)
        });
    }
    Ok(command)
}

/// A TOML value as the strings clap would have read on the command line.
fn file_values(value: &toml::Value, many: bool) -> Result<Vec<String>, String> {
    match value {
        toml::Value::Array(items) if many => items.iter().map(scalar).collect(),
        toml::Value::Array(_) => Err("takes one value, not a list".into()),
        other => Ok(vec![scalar(other)?]),
    }
}

fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        _ => Err("takes a string or a number".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn load(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_load_from(std::iter::once("messenger-server").chain(args.iter().copied()))
    }

    #[test]
    fn values_from_the_file_are_used_and_flags_win_over_them() {
        let config = file(
            "addr = \"127.0.0.1:9100\"\nwrite-batch = 8\n\
             allowed-origins = [\"https://a.example\", \"https://b.example\"]\n\
             log-format = \"json\"\n",
        );
        let path = config.path().to_str().unwrap();
        let cli = load(&["--config", path]).unwrap();
        assert_eq!(cli.serve.addr.port(), 9100);
        assert_eq!(cli.serve.write_batch, 8);
        assert_eq!(cli.serve.allowed_origins.len(), 2);
        assert_eq!(cli.serve.ops.log_format, super::super::LogFormat::Json);

        let cli = load(&["--config", path, "--addr", "127.0.0.1:9200"]).unwrap();
        assert_eq!(cli.serve.addr.port(), 9200);
        assert_eq!(cli.serve.write_batch, 8);
    }

    #[test]
    fn an_unknown_key_is_an_error_that_names_it() {
        let config = file("addr = \"127.0.0.1:9100\"\nlisten-port = 80\n");
        let err =
            load(&["--config", config.path().to_str().unwrap()]).expect_err("an unknown key fails");
        assert!(err.to_string().contains("listen-port"), "{err}");
    }

    #[test]
    fn a_bad_value_in_the_file_is_refused_like_a_bad_flag() {
        let config = file("write-batch = 0\n");
        assert!(load(&["--config", config.path().to_str().unwrap()]).is_err());
        let config = file("addr = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n");
        let err = load(&["--config", config.path().to_str().unwrap()]).unwrap_err();
        assert!(err.to_string().contains("addr"), "{err}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        assert!(load(&["--config", "/nonexistent/messenger.toml"]).is_err());
    }

    #[test]
    fn every_option_has_an_environment_variable() {
        let command = Cli::command();
        for arg in command.get_arguments() {
            if !arg.get_action().takes_values() {
                continue;
            }
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            assert!(
                env.as_deref().is_some_and(|e| e.starts_with("MESSENGER_")),
                "--{} has no MESSENGER_* variable",
                arg.get_long().unwrap_or_default()
            );
        }
    }
}
