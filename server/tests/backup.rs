//! `messenger-server backup`: the real binary copies the database of a real
//! server process while that server takes concurrent writes, and the copy is
//! whole, consistent and serves again once a server is started on it.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod process;

use messenger_server::feed::Feed;
use messenger_server::store::Store;
use messenger_wire::{Message, SendMessage, StartedConversation};
use process::{Launch, ServerProcess, all_messages};
use reqwest::StatusCode;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio::sync::watch;

const CONVERSATIONS: usize = 6;
const SENDERS: usize = 8;
/// Messages acknowledged before the backup starts.
const ACKS_BEFORE: u64 = 600;
/// Messages acknowledged after the backup, to show the server went on.
const ACKS_AFTER: u64 = 100;
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_concurrent_writes_is_consistent_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let server = Launch::new(&live).start().await;
    let api = format!("http://{}/api/v1", server.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let mut conversations = Vec::new();
    for _ in 0..CONVERSATIONS {
        conversations.push(start_conversation(&client, &api).await);
    }
    let tokens: Arc<Vec<String>> =
        Arc::new(conversations.iter().map(|c| c.token.clone()).collect());

    // Every acknowledged message, in the order the answers came back.
    let acknowledged: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let (acks, mut acked) = watch::channel(0u64);
    let acks = Arc::new(acks);
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            tokio::spawn(run_sender(
                sender,
                client.clone(),
                api.clone(),
                tokens.clone(),
                stop.clone(),
                acknowledged.clone(),
                acks.clone(),
            ))
        })
        .collect();

    wait_for_acks(&mut acked, ACKS_BEFORE, &server).await;
    // Everything acknowledged so far must be in the backup.
    let before: Vec<Acked> = acknowledged.lock().unwrap().clone();
    let target = dir.path().join("backups/messenger-backup.db");
    let database = live.join("m.db");
    let backup = {
        let target = target.clone();
        tokio::task::spawn_blocking(move || run_backup(&database, &target))
            .await
            .unwrap()
    };
    let during = acknowledged.lock().unwrap().len() - before.len();
    assert!(
        backup.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&backup.stderr)
    );
    // The server goes on taking writes after the backup.
    wait_for_acks(&mut acked, ACKS_AFTER, &server).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    println!(
        "backup: acknowledged before={} during={during} total={}",
        before.len(),
        acknowledged.lock().unwrap().len()
    );

    // The command prints where the backup is and how large it is.
    let printed = String::from_utf8(backup.stdout).unwrap();
    let size = std::fs::metadata(&target).unwrap().len();
    assert_eq!(
        printed.trim(),
        format!("{} {size} bytes", target.display()),
        "the backup's path and size"
    );
    // Nothing but the backup in its folder: no partial file left behind.
    let names: Vec<_> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["messenger-backup.db"]);

    let mut copy = open_read_only(&target).await;
    // (a) SQLite finds it whole.
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut copy)
        .await
        .unwrap();
    assert_eq!(integrity, ["ok"]);
    // (b) Every migration of this build is applied.
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut copy)
            .await
            .unwrap();
    assert_eq!(applied, migration_versions());
    // (c) Consistent: each conversation's messages run 1..=last_seq, the
    // global positions 1..=n, and everything acknowledged before is there.
    let mut in_backup: HashMap<String, Vec<(i64, String, String)>> = HashMap::new();
    for conversation in &conversations {
        let id = &conversation.conversation.id;
        let last_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM conversations WHERE id = ?")
            .bind(id)
            .fetch_one(&mut copy)
            .await
            .unwrap();
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT seq, client_id, body FROM messages WHERE conversation_id = ? ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&mut copy)
        .await
        .unwrap();
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        assert!(
            seqs.iter().copied().eq(1..=last_seq),
            "conversation {id}: seqs run 1..={last_seq} without a gap"
        );
        in_backup.insert(id.clone(), rows);
    }
    let positions: Vec<i64> = sqlx::query_scalar("SELECT position FROM messages ORDER BY position")
        .fetch_all(&mut copy)
        .await
        .unwrap();
    assert!(positions.iter().copied().eq(1..=positions.len() as i64));
    copy.close().await.unwrap();
    for acked in &before {
        let id = &conversations[acked.conversation].conversation.id;
        assert!(
            in_backup[id]
                .iter()
                .any(|(_, client_id, body)| *client_id == acked.client_id && *body == acked.body),
            "{} was acknowledged before the backup began but is not in it",
            acked.client_id
        );
    }
    let stored: usize = in_backup.values().map(Vec::len).sum();
    assert!(stored >= before.len());

    // (d) Restore: a server started on a copy of the backup serves the
    // history it holds.
    drop(server);
    let restored_dir = dir.path().join("restored");
    std::fs::create_dir_all(&restored_dir).unwrap();
    std::fs::copy(&target, restored_dir.join("m.db")).unwrap();
    let restored = Launch::new(&restored_dir).start().await;
    for conversation in &conversations {
        let id = &conversation.conversation.id;
        let served = all_messages(&client, &restored, &conversation.token).await;
        let expected: Vec<(i64, String, String)> = served
            .iter()
            .map(|m| (m.seq, m.client_id.clone().unwrap(), m.body.clone()))
            .collect();
        assert_eq!(expected, in_backup[id], "conversation {id} after restore");
    }
}

#[tokio::test]
async fn backup_refuses_to_overwrite_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("m.db");
    let store = Store::open(&database.clone().into(), Feed::new())
        .await
        .unwrap();
    store.close().await;
    let target = dir.path().join("yesterday.db");
    std::fs::write(&target, "yesterday's backup").unwrap();

    let output = run_backup(&database, &target);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exists already"), "{stderr}");
    assert!(stderr.contains("yesterday.db"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "yesterday's backup"
    );
    let partial = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|name| name.contains("partial"));
    assert_eq!(partial, None, "no partial copy left behind");
}

#[tokio::test]
async fn backup_of_a_postgresql_database_points_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_messenger-server"))
        .args(["backup", "--database"])
        .arg("postgres://app:s3cret-pass@127.0.0.1:5432/messenger")
        .arg("--to")
        .arg(dir.path().join("m.db"))
        .env_remove("MESSENGER_DATABASE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(
        !stderr.contains("s3cret"),
        "the password stays hidden: {stderr}"
    );
    assert!(!dir.path().join("m.db").exists());
}

// ---- helpers ----------------------------------------------------------------

fn run_backup(database: &Path, to: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_messenger-server"))
        .arg("backup")
        .arg("--database")
        .arg(database)
        .arg("--to")
        .arg(to)
        .env_remove("MESSENGER_DATABASE")
        .stdin(Stdio::null())
        .output()
        .expect("run messenger-server backup")
}

async fn open_read_only(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path).read_only(true))
        .await
        .unwrap()
}

/// The versions of the migrations this build carries.
fn migration_versions() -> Vec<i64> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut versions: Vec<i64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| name.split('_').next().unwrap().parse().unwrap())
        .collect();
    versions.sort();
    versions
}

#[derive(Clone)]
struct Acked {
    conversation: usize,
    client_id: String,
    body: String,
}

/// Sends one customer message after another, cycling through the
/// conversations, until `stop`; each acknowledged one is recorded.
async fn run_sender(
    sender: usize,
    client: reqwest::Client,
    api: String,
    tokens: Arc<Vec<String>>,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<Acked>>>,
    acks: Arc<watch::Sender<u64>>,
) {
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let conversation = (sender + n) % tokens.len();
        let message = SendMessage {
            client_id: format!("s{sender}-m{n}"),
            body: format!("message {n} of sender {sender}"),
        };
        let response = client
            .post(format!("{api}/conversation/messages"))
            .bearer_auth(&tokens[conversation])
            .json(&message)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            message.client_id
        );
        let stored: Message = response.json().await.unwrap();
        assert_eq!(stored.body, message.body);
        acknowledged.lock().unwrap().push(Acked {
            conversation,
            client_id: message.client_id,
            body: message.body,
        });
        acks.send_modify(|count| *count += 1);
    }
}

async fn wait_for_acks(acked: &mut watch::Receiver<u64>, more: u64, server: &ServerProcess) {
    let target = *acked.borrow_and_update() + more;
    let progressed = tokio::time::timeout(PROGRESS_TIMEOUT, acked.wait_for(|n| *n >= target)).await;
    if progressed.is_err() {
        server.print_log_tail();
        panic!("fewer than {more} messages acknowledged within {PROGRESS_TIMEOUT:?}");
    }
}

async fn start_conversation(client: &reqwest::Client, api: &str) -> StartedConversation {
    let response = client
        .post(format!("{api}/conversations"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}
