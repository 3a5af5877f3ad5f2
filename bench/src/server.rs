//! The measured server as a child process over a database in a given folder,
//! on 127.0.0.1:0, with its default settings or given extra flags; killed
//! when dropped.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest wait for the server's `listening on` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The agent API key the server is started with.
pub const AGENT_KEY: &str = "bench-agent-key-0123456789";

pub struct ServerProcess {
    child: Child,
    /// Its log file.
    pub log: std::path::PathBuf,
    pub addr: SocketAddr,
    /// When the process was spawned (for the start-up time).
    pub spawned: std::time::Instant,
}

impl ServerProcess {
    pub fn start(bin: &Path, dir: &Path) -> Result<ServerProcess, Box<dyn std::error::Error>> {
        Self::start_with(bin, dir, &[])
    }

    /// [`ServerProcess::start`] with extra command-line flags (which win
    /// over any `MESSENGER_*` variable the bench inherited).
    pub fn start_with(
        bin: &Path,
        dir: &Path,
        extra_args: &[String],
    ) -> Result<ServerProcess, Box<dyn std::error::Error>> {
        let assets = dir.join("dist");
        std::fs::create_dir_all(&assets)?;
        // Logs go to a file: a pipe nobody reads could fill and block the server.
        let log = File::create(dir.join("server.log"))?;
        let spawned = std::time::Instant::now();
        let mut child = Command::new(bin)
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--database")
            .arg(dir.join("server.db"))
            .arg("--assets")
            .arg(&assets)
            .arg("--agent-api-key")
            .arg(AGENT_KEY)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|err| format!("cannot start {}: {err}", bin.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // The guard kills the server if it does not come up.
        let mut server = ServerProcess {
            child,
            log: dir.join("server.log"),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            spawned,
        };
        let (found, listening) = mpsc::channel();
        // Reads stdout to its end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = found.send(addr.parse::<SocketAddr>());
                }
            }
        });
        server.addr = match listening.recv_timeout(STARTUP_TIMEOUT) {
            Ok(addr) => addr?,
            Err(_) => {
                let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                return Err(format!("the server did not start; its log:\n{log}").into());
            }
        };
        Ok(server)
    }
}

impl ServerProcess {
    /// Whether the process is still running (not exited).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `/proc/<pid>/status` of the server process (Linux), for its memory.
    pub fn status_path(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
