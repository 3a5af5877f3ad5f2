//! `messenger-server`: reads the configuration, opens the database, serves.
//! Run `messenger-server --help` for the options; see the README.

use clap::Parser;
use messenger_server::{AppState, Config, demo, serve};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = Config::parse();
    if config.agent_api_key.is_none() {
        tracing::warn!(
            "no agent API key configured (--agent-api-key): the agent API refuses every request"
        );
    }
    let state = AppState::new(&config).await?;
    tracing::info!(database = %config.database.display(), "database ready");

    let listener = TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let public_url = public_url.trim_end_matches('/').to_owned();

    // Scripts and tests wait for these lines on stdout; logs go to stderr.
    println!("listening on http://{addr}");
    println!("agent API on {public_url}/api/v1/agent/conversations");
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
