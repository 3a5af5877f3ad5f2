//! The real `messenger-server` binary as a child process, for the tests of
//! what only a process shows: its command line, configuration file, logs,
//! signals and exit.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest wait for a started server to print its listening line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// A server process; killed (SIGKILL) when dropped, so a failing test
/// leaves none behind.
pub struct ServerProcess {
    pub child: Child,
    /// The public address (`listening on http://ADDR`).
    pub addr: SocketAddr,
    /// The private metrics address, with `--metrics-addr`.
    pub metrics_addr: Option<SocketAddr>,
    /// Every line printed on standard output so far.
    pub stdout: Arc<Mutex<Vec<String>>>,
    /// Standard error (the logs) goes to this file.
    pub log: PathBuf,
}

/// How to start a server: `dir/m.db`, `dir/dist`, and these arguments and
/// environment variables.
pub struct Launch {
    pub dir: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Launch {
    /// A server over `dir/m.db` on a free loopback port.
    pub fn new(dir: &Path) -> Launch {
        std::fs::create_dir_all(dir.join("dist")).unwrap();
        Launch {
            dir: dir.to_owned(),
            args: vec![
                "--addr".into(),
                "127.0.0.1:0".into(),
                "--database".into(),
                dir.join("m.db").display().to_string(),
                "--assets".into(),
                dir.join("dist").display().to_string(),
            ],
            env: Vec::new(),
        }
    }

    /// Without `--addr` (the configuration file gives it, say).
    pub fn without_addr(mut self) -> Launch {
        self.args.drain(..2);
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Launch {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Launch {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the process, without waiting for anything.
    pub fn spawn(&self) -> (Child, PathBuf) {
        // Logs go to a file: a pipe nobody reads could fill and block the server.
        let log = self.dir.join("server.log");
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_messenger-server"));
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // Only what the test says: none of the developer's settings.
            .env_remove("RUST_LOG");
        for (key, _) in std::env::vars() {
            if key.starts_with("MESSENGER_") {
                command.env_remove(key);
            }
        }
        for (key, value) in &self.env {
            command.env(key, value);
        }
        (command.spawn().expect("start messenger-server"), log)
    }

    /// Starts the server and waits for its `listening on` line.
    pub async fn start(self) -> ServerProcess {
        tokio::task::spawn_blocking(move || {
            let (mut child, log) = self.spawn();
            let stdout = Arc::new(Mutex::new(Vec::new()));
            let lines = stdout.clone();
            let (found, listening) = std::sync::mpsc::channel();
            let out = child.stdout.take().unwrap();
            // Reads stdout to its end, so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let listening = line.starts_with("listening on http://");
                    lines.lock().unwrap().push(line);
                    if listening {
                        let _ = found.send(());
                    }
                }
            });
            let mut server = ServerProcess {
                child,
                addr: "0.0.0.0:0".parse().unwrap(),
                metrics_addr: None,
                stdout,
                log,
            };
            if listening.recv_timeout(STARTUP_TIMEOUT).is_err() {
                server.print_log_tail();
                panic!("messenger-server printed no listening line");
            }
            for line in server.stdout.lock().unwrap().iter() {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    server.addr = addr.parse().unwrap();
                }
                if let Some(addr) = line.strip_prefix("metrics on http://") {
                    let addr = addr.strip_suffix("/metrics").unwrap();
                    server.metrics_addr = Some(addr.parse().unwrap());
                }
            }
            server
        })
        .await
        .unwrap()
    }

    /// Runs the process to its end (one that is expected not to serve) and
    /// returns its exit status and its standard error.
    pub fn run_to_end(self) -> (ExitStatus, String) {
        let (mut child, log) = self.spawn();
        let status = wait_until(&mut child, Instant::now() + STARTUP_TIMEOUT)
            .expect("the process ends by itself");
        (status, std::fs::read_to_string(log).unwrap_or_default())
    }
}

/// The child's exit status, polled until `deadline`; `None` if it still runs.
pub fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl ServerProcess {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.addr)
    }

    pub fn metrics_url(&self) -> String {
        format!(
            "http://{}/metrics",
            self.metrics_addr.expect("--metrics-addr")
        )
    }

    /// Sends SIGTERM, as systemd or Kubernetes do to stop a service.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM");
    }

    /// Waits (without blocking the runtime) for the process to exit, at most
    /// until `deadline`.
    pub async fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        tokio::task::block_in_place(|| wait_until(&mut self.child, deadline))
    }

    /// The logs (standard error) so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn print_log_tail(&self) {
        let log = self.logs();
        let lines: Vec<&str> = log.lines().collect();
        eprintln!("--- end of the server's log ---");
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("{line}");
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts a conversation; returns its customer token and id.
pub async fn start_conversation(
    client: &reqwest::Client,
    server: &ServerProcess,
) -> (String, String) {
    let response = client
        .post(server.api("/conversations"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let started: messenger_wire::StartedConversation = response.json().await.unwrap();
    (started.token, started.conversation.id)
}

/// Every message of a conversation, oldest first.
pub async fn all_messages(
    client: &reqwest::Client,
    server: &ServerProcess,
    token: &str,
) -> Vec<messenger_wire::Message> {
    let mut pages = Vec::new();
    let mut query = String::new();
    loop {
        let response = client
            .get(server.api(&format!("/conversation?limit=200{query}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let page: messenger_wire::ConversationPage = response.json().await.unwrap();
        pages.push(page.messages);
        match page.older_cursor {
            Some(cursor) => query = format!("&before={cursor}"),
            None => break,
        }
    }
    pages.into_iter().rev().flatten().collect()
}
