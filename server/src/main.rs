//! `messenger-server`: reads the configuration, opens the database, serves;
//! or, with `create-admin`, creates an admin account; with `backup`, copies
//! the SQLite database; with `copy-to-postgres`, copies it into PostgreSQL.
//! Run `messenger-server --help` for the options; see the README.

use std::io::BufRead;
use std::process::ExitCode;

use messenger_server::config::{
    BackupArgs, Cli, Command, CopyToPostgresArgs, CreateAdmin, DEFAULT_LOG_LEVEL, LogFormat,
    OpsConfig,
};
use messenger_server::feed::Feed;
use messenger_server::store::Store;
use messenger_server::{AppState, Config, accounts, demo, ops, serve};
use messenger_wire::{NewAgent, Role};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let cli = Cli::load();
    init_logs(&cli.serve.ops)?;
    match cli.command {
        Some(Command::CreateAdmin(admin)) => create_admin(admin).await,
        Some(Command::Backup(args)) => Ok(backup(args).await),
        Some(Command::CopyToPostgres(args)) => Ok(copy_to_postgres(args).await),
        None => match run(cli.serve).await {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(err) => {
                eprintln!("error: {err}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// Logs to standard error, as text or JSON lines, filtered by
/// `--log-level`, else RUST_LOG, else [`DEFAULT_LOG_LEVEL`].
fn init_logs(ops: &OpsConfig) -> Result<(), Box<dyn std::error::Error>> {
    let filter = match &ops.log_level {
        Some(level) => EnvFilter::try_new(level)
            .map_err(|err| format!("--log-level {level:?} is not a log filter: {err}"))?,
        None => {
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_LEVEL))
        }
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match ops.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    Ok(())
}

/// `messenger-server create-admin`: prints the new admin's id on stdout.
async fn create_admin(admin: CreateAdmin) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let password = match std::env::var("MESSENGER_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            eprintln!(
                "password for {} (at least 12 characters; input is shown, so prefer MESSENGER_ADMIN_PASSWORD or a pipe):",
                admin.email
            );
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    let store = Store::open(&admin.database, Feed::new()).await?;
    let new = NewAgent {
        email: admin.email,
        name: admin.name,
        password,
        role: Role::Admin,
    };
    let created = accounts::create_agent(&store, new, messenger_server::now_ms()).await;
    store.close().await;
    match created {
        Ok(account) => {
            eprintln!("created admin {} <{}>", account.name, account.email);
            println!("{}", account.id);
            Ok(ExitCode::SUCCESS)
        }
        Err(accounts::CreateError::Database(err)) => Err(err.into()),
        Err(err) => {
            eprintln!("error: {err}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `messenger-server backup`: prints the backup's path and size on stdout.
async fn backup(args: BackupArgs) -> ExitCode {
    match messenger_server::backup::backup(&args.database, &args.to).await {
        Ok(written) => {
            println!("{} {} bytes", written.path.display(), written.bytes);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `messenger-server copy-to-postgres`: prints the row counts of every
/// table, in the SQLite file and in PostgreSQL, on stdout.
async fn copy_to_postgres(args: CopyToPostgresArgs) -> ExitCode {
    eprintln!("copying {} into {} …", args.from, args.to);
    match messenger_server::copy::copy_to_postgres(&args.from, &args.to).await {
        Ok(copied) => {
            print!("{copied}");
            println!(
                "copied {} rows of {} tables from {} into {}",
                copied.rows(),
                copied.tables.len(),
                args.from,
                args.to
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until Ctrl-C or SIGTERM.
async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    if config.agent_api_key.is_some() {
        tracing::info!(
            "configured agent API key set (--agent-api-key): a bootstrap for the first integration; \
             admins create and revoke the integrations' keys in the inbox"
        );
    } else {
        tracing::info!(
            "no configured agent API key (--agent-api-key): the agent API accepts the keys admins create in the inbox"
        );
    }
    let state = match AppState::new(&config).await {
        Ok(state) => state,
        Err(err) => {
            // Said plainly (the URL without its password), not as a debug dump.
            tracing::error!(database = %config.database, error = %err, "cannot open the database");
            return Err(format!("cannot open the database {}: {err}", config.database).into());
        }
    };
    tracing::info!(database = %config.database, "database ready");
    if !state.store.has_admin().await? {
        tracing::warn!(
            "no admin account yet: create one with `messenger-server create-admin --email EMAIL --name NAME`"
        );
    }

    if let Some(metrics_addr) = config.ops.metrics_addr {
        let handle = ops::install_recorder()?;
        let metrics_listener = TcpListener::bind(metrics_addr).await?;
        println!(
            "metrics on http://{}/metrics",
            metrics_listener.local_addr()?
        );
        tokio::spawn(ops::serve_metrics(
            metrics_listener,
            handle,
            state.store.clone(),
        ));
    }

    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let public_url = public_url.trim_end_matches('/').to_owned();

    // Scripts and tests wait for these lines on stdout (the metrics line
    // comes first); logs go to stderr.
    println!("listening on http://{addr}");
    println!("agent API on {public_url}/api/v1/agent/conversations");
    println!("inbox on {public_url}/inbox/");
    if let Some(demo_addr) = config.demo_addr {
        let demo_listener = TcpListener::bind(demo_addr).await?;
        println!("demo page on http://{}/", demo_listener.local_addr()?);
        let demo_app = demo::router(&public_url);
        tokio::spawn(async move {
            if let Err(err) = axum::serve(demo_listener, demo_app).await {
                tracing::error!(error = %err, "demo server stopped");
            }
        });
    }

    serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
