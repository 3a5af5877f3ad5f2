//! Test fixture: a real SMTP server, `tests/smtp/sink.py` (aiosmtpd, which
//! `scripts/setup.sh` installs), on a free port of 127.0.0.1, keeping every
//! message it accepts in a temporary folder; and a reader for what it kept.
//!
//! Include it with `#[path = "support/smtp.rs"] mod smtp;`.
//!
//! ```ignore
//! let mut sink = SmtpSink::start().await;
//! // ... point the server at 127.0.0.1:sink.port() and make it send ...
//! let mails = sink.wait_for_messages(1, Duration::from_secs(10)).await;
//! assert_eq!(mails[0].subject, "Your conversation");
//! sink.stop().await; // an outage: connections are refused
//! sink.start_again().await; // same port, same folder
//! ```
//!
//! The reader decodes what lettre produces: a single text part or
//! multipart/alternative (also nested in multipart/mixed or related) with
//! text/plain and text/html parts, in 7bit, 8bit, quoted-printable or base64,
//! and RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`) in
//! headers. It is not a general MIME parser.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// How long the sink may take to print its "listening on" line.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `start_again` keeps retrying while the port is not free yet.
const RESTART_TIMEOUT: Duration = Duration::from_secs(10);
/// How often `wait_for_messages` looks at the folder.
const POLL: Duration = Duration::from_millis(50);

/// The running sink. Dropping it kills the process.
pub struct SmtpSink {
    port: u16,
    /// Holds `mail/` (the messages) and `sink.log` (the sink's stderr).
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpSink {
    /// Starts the sink on a free port of 127.0.0.1 over a new, empty folder.
    pub async fn start() -> SmtpSink {
        let dir = tempfile::tempdir().expect("a temporary folder for the SMTP sink");
        std::fs::create_dir(dir.path().join("mail")).unwrap();
        let mut sink = SmtpSink {
            port: 0,
            dir,
            child: None,
        };
        match sink.spawn(0).await {
            Ok((child, port)) => {
                sink.child = Some(child);
                sink.port = port;
                sink
            }
            Err(problem) => panic!("{problem}"),
        }
    }

    /// The port it listens on (kept across `stop` and `start_again`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The folder the sink writes `NNNNNN.eml` and `NNNNNN.json` to.
    pub fn mail_dir(&self) -> PathBuf {
        self.dir.path().join("mail")
    }

    /// Whether the process is running (not stopped, not exited).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// The messages received so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.mail_dir())
            .expect("the SMTP sink's folder")
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| {
                let name = path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .unwrap_or("");
                name.len() == 10
                    && name.ends_with(".eml")
                    && name[..6].bytes().all(|b| b.is_ascii_digit())
            })
            .collect();
        names.sort();
        names.iter().map(|path| Mail::read(path)).collect()
    }

    /// Waits until at least `n` messages have arrived and returns all of them
    /// (oldest first), looking every 50 ms. Panics after `timeout`, listing
    /// what did arrive and the sink's log.
    pub async fn wait_for_messages(&mut self, n: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = Instant::now() + timeout;
        loop {
            let mails = self.messages();
            if mails.len() >= n {
                return mails;
            }
            if Instant::now() >= deadline {
                let listing: Vec<String> = mails.iter().map(Mail::summary).collect();
                let state = if self.is_running() {
                    "running"
                } else {
                    "NOT running"
                };
                panic!(
                    "expected {n} message(s) at the SMTP sink on port {} within {timeout:?}, \
                     {} arrived{}{}\nthe sink is {state}; its log:\n{}",
                    self.port,
                    mails.len(),
                    if listing.is_empty() { "" } else { ":\n  " },
                    listing.join("\n  "),
                    self.log(),
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Kills the sink (SIGKILL, as in a crash) and waits for it to exit: from
    /// then on connections to its port are refused. The messages stay.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            tokio::task::spawn_blocking(move || {
                let _ = child.kill();
                child.wait()
            })
            .await
            .expect("waiting for the SMTP sink")
            .expect("waiting for the SMTP sink");
        }
    }

    /// Starts the sink again on the same port over the same folder (message
    /// numbers continue), retrying briefly while the port is not free yet.
    pub async fn start_again(&mut self) {
        self.stop().await;
        let deadline = Instant::now() + RESTART_TIMEOUT;
        loop {
            match self.spawn(self.port).await {
                Ok((child, _)) => {
                    self.child = Some(child);
                    return;
                }
                Err(problem) if Instant::now() >= deadline => {
                    panic!("could not start the SMTP sink again: {problem}")
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// What the sink wrote to stderr, over all its runs.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    /// Spawns `sink.py` on `port` and waits for its "listening on" line.
    async fn spawn(&self, port: u16) -> Result<(Child, u16), String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/smtp/sink.py");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("sink.log"))
            .map_err(|e| format!("opening the SMTP sink's log: {e}"))?;
        let mut child = Command::new("python3")
            .arg(&script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--dir")
            .arg(self.mail_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("running python3 {}: {e}", script.display()))?;
        let stdout = child.stdout.take().unwrap();
        let first_line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let outcome = tokio::time::timeout(START_TIMEOUT, first_line).await;
        let line = match outcome {
            Ok(Ok(Ok(line))) => line,
            Ok(Ok(Err(e))) => format!("(reading its stdout failed: {e})"),
            Ok(Err(e)) => format!("(reading its stdout panicked: {e})"),
            Err(_) => format!("(nothing within {START_TIMEOUT:?})"),
        };
        let bound = line
            .trim_end()
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|port| port.parse::<u16>().ok());
        match bound {
            Some(bound) if port == 0 || bound == port => Ok((child, bound)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!(
                    "the SMTP sink (python3 {} --port {port}) did not start: its first line was \
                     {line:?}. Is aiosmtpd installed (scripts/setup.sh)? Its log:\n{}",
                    script.display(),
                    self.log()
                ))
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One message the sink received, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `NNNNNN.eml` in the sink's folder.
    pub path: PathBuf,
    /// The envelope's sender (MAIL FROM).
    pub from: String,
    /// The envelope's recipients (RCPT TO), in order.
    pub to: Vec<String>,
    /// The Subject header, unfolded, encoded words decoded.
    pub subject: String,
    /// The top-level headers in order, names as written, values unfolded and
    /// trimmed but not decoded (see `header` and `decoded_header`).
    pub headers: Vec<(String, String)>,
    /// The text/plain part, decoded, with `\n` line ends; empty if none.
    pub text: String,
    /// The text/html part, decoded, with `\n` line ends.
    pub html: Option<String>,
    /// The message's bytes as received.
    pub raw: Vec<u8>,
}

impl Mail {
    /// Reads `NNNNNN.eml` and its envelope `NNNNNN.json`.
    pub fn read(path: &Path) -> Mail {
        let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let envelope = path.with_extension("json");
        let envelope: serde_json::Value = std::fs::read(&envelope)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| panic!("{}: missing or not JSON", envelope.display()));
        let from = envelope["from"].as_str().unwrap_or_default().to_owned();
        let to = envelope["to"]
            .as_array()
            .map(|to| {
                to.iter()
                    .filter_map(|address| address.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut mail = Mail::parse(&raw);
        mail.path = path.to_owned();
        mail.from = from;
        mail.to = to;
        mail
    }

    /// Decodes a message's bytes (the envelope fields stay empty).
    pub fn parse(raw: &[u8]) -> Mail {
        let message = String::from_utf8_lossy(raw).replace("\r\n", "\n");
        let (headers, body) = split_entity(&message);
        let mut text = None;
        let mut html = None;
        collect_parts(&headers, body, &mut text, &mut html);
        let subject = lookup(&headers, "subject")
            .map(decode_encoded_words)
            .unwrap_or_default();
        Mail {
            path: PathBuf::new(),
            from: String::new(),
            to: Vec::new(),
            subject,
            headers,
            text: text.unwrap_or_default(),
            html,
            raw: raw.to_vec(),
        }
    }

    /// The first header called `name` (any case), unfolded, undecoded.
    pub fn header(&self, name: &str) -> Option<&str> {
        lookup(&self.headers, name)
    }

    /// Every header called `name` (any case), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// The first header called `name` with its RFC 2047 encoded words decoded.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        self.header(name).map(decode_encoded_words)
    }

    /// The http(s) URLs in the text part, in order.
    pub fn links(&self) -> Vec<String> {
        links(&self.text)
    }

    /// One line for failure messages.
    pub fn summary(&self) -> String {
        format!(
            "{} from {:?} to {:?}: {:?}",
            self.path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            self.from,
            self.to,
            self.subject
        )
    }
}

/// The http(s) URLs in `text`, in order, without trailing punctuation.
pub fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = [rest.find("http://"), rest.find("https://")]
        .into_iter()
        .flatten()
        .min()
    {
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\''))
            .unwrap_or(candidate.len());
        let mut url = &candidate[..end];
        loop {
            let trimmed = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
            let trimmed = if trimmed.ends_with(')') && !trimmed.contains('(') {
                &trimmed[..trimmed.len() - 1]
            } else {
                trimmed
            };
            if trimmed == url {
                break;
            }
            url = trimmed;
        }
        if !url.ends_with("://") {
            found.push(url.to_owned());
        }
        rest = &candidate[end.max(1)..];
    }
    found
}

fn lookup<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Splits an entity (with `\n` line ends) into its unfolded headers and body.
fn split_entity(entity: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = if let Some(rest) = entity.strip_prefix('\n') {
        ("", rest)
    } else {
        match entity.find("\n\n") {
            Some(at) => (&entity[..at], &entity[at + 2..]),
            None => (entity, ""),
        }
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        if line.starts_with([' ', '\t']) {
            // Unfolding removes the line break and keeps the white space.
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.to_owned()));
        }
    }
    for (_, value) in &mut headers {
        *value = value.trim().to_owned();
    }
    (headers, body)
}

/// A Content-Type's lowercased type and its parameters (names lowercased).
fn content_type(headers: &[(String, String)]) -> (String, Vec<(String, String)>) {
    let value = lookup(headers, "content-type").unwrap_or("text/plain; charset=us-ascii");
    let mut pieces = split_params(value).into_iter();
    let kind = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let params = pieces
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let value = value.trim();
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) => unescape_quoted(quoted),
                None => value.to_owned(),
            };
            Some((name.trim().to_ascii_lowercase(), value))
        })
        .collect();
    (kind, params)
}

/// Splits a header value at the semicolons outside quoted strings.
fn split_params(value: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        let piece = pieces.last_mut().unwrap();
        if escaped {
            escaped = false;
            piece.push(c);
        } else if quoted && c == '\\' {
            escaped = true;
            piece.push(c);
        } else if c == '"' {
            quoted = !quoted;
            piece.push(c);
        } else if c == ';' && !quoted {
            pieces.push(String::new());
        } else {
            piece.push(c);
        }
    }
    pieces
}

fn unescape_quoted(quoted: &str) -> String {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

/// Walks an entity, keeping the first text/plain and text/html parts that
/// are not attachments.
fn collect_parts(
    headers: &[(String, String)],
    body: &str,
    text: &mut Option<String>,
    html: &mut Option<String>,
) {
    let (kind, params) = content_type(headers);
    if kind.starts_with("multipart/") {
        let Some(boundary) = param(&params, "boundary") else {
            return;
        };
        for part in multipart_parts(body, boundary) {
            let (part_headers, part_body) = split_entity(part);
            collect_parts(&part_headers, part_body, text, html);
        }
        return;
    }
    let attachment = lookup(headers, "content-disposition")
        .is_some_and(|d| d.trim().to_ascii_lowercase().starts_with("attachment"));
    let slot = match kind.as_str() {
        "text/plain" => text,
        "text/html" => html,
        _ => return,
    };
    if attachment || slot.is_some() {
        return;
    }
    let encoding = lookup(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .unwrap_or_else(|e| panic!("a base64 {kind} part that does not decode: {e}"))
        }
        _ => body.as_bytes().to_vec(),
    };
    let charset = param(&params, "charset").unwrap_or("utf-8");
    *slot = Some(decode_charset(charset, &bytes).replace("\r\n", "\n"));
}

/// The parts of a multipart body (`\n` line ends), without the preamble and
/// epilogue. The line break before a delimiter belongs to the delimiter.
fn multipart_parts<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset: usize = 0;
    for line in body.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if let Some(after) = bare.strip_prefix(&delimiter) {
            let closing = after.starts_with("--");
            if closing || after.trim().is_empty() {
                if let Some(from) = start {
                    // Up to, not including, the '\n' before this delimiter.
                    parts.push(&body[from..offset.saturating_sub(1).max(from)]);
                }
                if closing {
                    return parts;
                }
                start = Some(offset + line.len());
            }
        }
        offset += line.len();
    }
    if let Some(from) = start {
        parts.push(&body[from.min(body.len())..]);
    }
    parts
}

fn decode_quoted_printable(body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let lines: Vec<&str> = body.split('\n').collect();
    for (index, line) in lines.iter().enumerate() {
        // Trailing white space on an encoded line was added in transport.
        let line = line.trim_end_matches([' ', '\t']);
        let (line, soft_break) = match line.strip_suffix('=') {
            Some(line) => (line, true),
            None => (line, false),
        };
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(|hex| std::str::from_utf8(hex).ok())
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                if let Some(byte) = byte {
                    out.push(byte);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        if !soft_break && index + 1 < lines.len() {
            out.push(b'\n');
        }
    }
    out
}

fn decode_charset(charset: &str, bytes: &[u8]) -> String {
    match charset.trim().to_ascii_lowercase().as_str() {
        "iso-8859-1" | "latin1" | "latin-1" => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words; white space between two adjacent encoded
/// words is dropped, as the RFC says.
pub fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    loop {
        match next_encoded_word(rest) {
            Some((start, end, decoded)) => {
                let between = &rest[..start];
                if !(after_word && between.chars().all(char::is_whitespace)) {
                    out.push_str(between);
                }
                out.push_str(&decoded);
                rest = &rest[end..];
                after_word = true;
            }
            None => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

/// The first well-formed encoded word in `s`: where it starts and ends, and
/// its decoded text.
fn next_encoded_word(s: &str) -> Option<(usize, usize, String)> {
    let mut from = 0;
    while let Some(found) = s[from..].find("=?") {
        let start = from + found;
        if let Some((length, decoded)) = encoded_word_at(&s[start..]) {
            return Some((start, start + length, decoded));
        }
        from = start + 2;
    }
    None
}

fn encoded_word_at(s: &str) -> Option<(usize, String)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let payload = &inner[..end];
    if charset.is_empty()
        || charset.contains(char::is_whitespace)
        || payload.contains(char::is_whitespace)
    {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64::engine::general_purpose::STANDARD
            .decode(payload)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(payload))
            .ok()?,
        "Q" | "q" => {
            let mut out = Vec::new();
            let bytes = payload.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'_' => out.push(b' '),
                    b'=' => {
                        let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    byte => out.push(byte),
                }
                i += 1;
            }
            out
        }
        _ => return None,
    };
    let length = "=?".len() + charset.len() + 1 + encoding.len() + 1 + end + "?=".len();
    // "utf-8*en": RFC 2231 adds a language after the charset.
    let charset = charset.split('*').next().unwrap_or(charset);
    Some((length, decode_charset(charset, &bytes)))
}
