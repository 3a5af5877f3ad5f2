//! The SMTP sink fixture (support/smtp.rs over tests/smtp/sink.py) against a
//! real SMTP client: a plain dialogue over TCP, as lettre would hold it.

#[path = "support/smtp.rs"]
mod smtp;

use std::time::Duration;

use smtp::{Mail, SmtpSink};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// Reads one SMTP reply (all its lines) and checks its code.
async fn expect_reply(reader: &mut BufReader<TcpStream>, code: &str, after: &str) {
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert!(
            line.starts_with(code),
            "after {after}: expected {code}, got {line:?}"
        );
        // "250-..." continues the reply, "250 ..." ends it.
        if line.as_bytes().get(3) != Some(&b'-') {
            return;
        }
    }
}

/// Sends one message: EHLO, MAIL FROM, RCPT TO (each), DATA, QUIT.
async fn send(port: u16, from: &str, to: &[&str], message: &str) {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut smtp = BufReader::new(stream);
    expect_reply(&mut smtp, "220", "connecting").await;
    let mut commands = vec![
        ("EHLO client.test".to_owned(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
    ];
    commands.extend(to.iter().map(|to| (format!("RCPT TO:<{to}>"), "250")));
    commands.push(("DATA".to_owned(), "354"));
    for (command, code) in commands {
        smtp.get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .await
            .unwrap();
        expect_reply(&mut smtp, code, &command).await;
    }
    // CRLF line ends and dot-stuffing, as any client does.
    let mut data = String::new();
    for line in message.lines() {
        if line.starts_with('.') {
            data.push('.');
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
    data.push_str(".\r\n");
    smtp.get_mut().write_all(data.as_bytes()).await.unwrap();
    expect_reply(&mut smtp, "250", "the message").await;
    smtp.get_mut().write_all(b"QUIT\r\n").await.unwrap();
    expect_reply(&mut smtp, "221", "QUIT").await;
}

const PLAIN: &str = "\
From: Messenger <noreply@messenger.test>
To: Ada <ada@example.com>
Subject: Your conversation
X-Folded: first half
 second half
Date: Fri, 21 Nov 2025 10:00:00 +0000
Message-ID: <1@messenger.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Hello Ada,

.a line that starts with a dot
See https://messenger.test/c/abc?x=1.
";

/// What lettre makes of a text and an HTML body: multipart/alternative,
/// quoted-printable, and the subject as encoded words.
const ALTERNATIVE: &str = "\
From: =?utf-8?q?L=C3=A9a_of_Support?= <support@messenger.test>
To: zoe@example.com
Subject: =?utf-8?b?UsOpcG9uc2UgZGUgbCfDqXF1aXBl?=
 =?utf-8?q?_=E2=9C=93_done?=
MIME-Version: 1.0
Content-Type: multipart/alternative;
 boundary=\"0123456789abcdefghij\"

--0123456789abcdefghij
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Bonjour Zo=C3=A9,

Votre conversation continue ici, sur une ligne assez longue pour qu'elle so=
it coup=C3=A9e : https://messenger.test/resume?token=3Dabc=3Ddef
--0123456789abcdefghij
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Bonjour Zo=C3=A9,</p>
<p><a href=3D\"https://messenger.test/resume?token=3Dabc\">Reprendre</a></p>
--0123456789abcdefghij--
";

const BASE64: &str = "\
From: support@messenger.test
To: ada@example.com
Subject: =?UTF-8?Q?Back_again_=E2=80=94_=C3=A7a_marche?=
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

w4dhIG1hcmNoZSBlbmNvcmUuCkxpZW46IGh0dHBzOi8vbWVzc2VuZ2VyLnRlc3QvYQo=
";

#[tokio::test]
async fn receives_decodes_and_survives_an_outage() {
    let mut sink = SmtpSink::start().await;
    let port = sink.port();
    assert!(sink.messages().is_empty());

    send(
        port,
        "noreply@messenger.test",
        &["ada@example.com", "bcc@example.com"],
        PLAIN,
    )
    .await;
    send(
        port,
        "support@messenger.test",
        &["zoe@example.com"],
        ALTERNATIVE,
    )
    .await;

    let mails = sink.wait_for_messages(2, WAIT).await;
    assert_eq!(mails.len(), 2);

    let plain = &mails[0];
    assert_eq!(plain.from, "noreply@messenger.test");
    assert_eq!(plain.to, ["ada@example.com", "bcc@example.com"]);
    assert_eq!(plain.subject, "Your conversation");
    assert_eq!(plain.header("x-folded"), Some("first half second half"));
    assert_eq!(plain.header("MESSAGE-ID"), Some("<1@messenger.test>"));
    assert_eq!(plain.header("Cc"), None);
    assert_eq!(
        plain.text,
        "Hello Ada,\n\n.a line that starts with a dot\nSee https://messenger.test/c/abc?x=1.\n"
    );
    assert_eq!(plain.html, None);
    assert_eq!(plain.links(), ["https://messenger.test/c/abc?x=1"]);
    assert!(
        plain
            .raw
            .starts_with(b"From: Messenger <noreply@messenger.test>\r\n")
    );

    let alternative = &mails[1];
    assert_eq!(alternative.from, "support@messenger.test");
    assert_eq!(alternative.to, ["zoe@example.com"]);
    assert_eq!(alternative.subject, "Réponse de l'équipe ✓ done");
    assert_eq!(
        alternative.decoded_header("from").as_deref(),
        Some("Léa of Support <support@messenger.test>")
    );
    assert_eq!(
        alternative.text,
        "Bonjour Zoé,\n\nVotre conversation continue ici, sur une ligne assez longue pour \
         qu'elle soit coupée : https://messenger.test/resume?token=abc=def"
    );
    assert_eq!(
        alternative.html.as_deref(),
        Some(
            "<p>Bonjour Zoé,</p>\n<p><a href=\"https://messenger.test/resume?token=abc\">\
             Reprendre</a></p>"
        )
    );
    assert_eq!(
        alternative.links(),
        ["https://messenger.test/resume?token=abc=def"]
    );

    // An outage: nothing listens on the port any more.
    sink.stop().await;
    let refused = TcpStream::connect(("127.0.0.1", port)).await;
    assert!(
        refused.is_err(),
        "the stopped sink still accepts connections"
    );
    assert_eq!(sink.messages().len(), 2, "stopping keeps what arrived");

    // Back on the same port, numbering on after the messages already there.
    sink.start_again().await;
    assert_eq!(sink.port(), port);
    send(port, "support@messenger.test", &["ada@example.com"], BASE64).await;
    let mails = sink.wait_for_messages(3, WAIT).await;
    assert_eq!(mails.len(), 3);
    let again = &mails[2];
    assert!(again.path.ends_with("000003.eml"), "{:?}", again.path);
    assert_eq!(again.subject, "Back again — ça marche");
    assert_eq!(
        again.text,
        "Ça marche encore.\nLien: https://messenger.test/a\n"
    );
    assert_eq!(again.links(), ["https://messenger.test/a"]);
}

#[tokio::test]
async fn a_missing_message_fails_with_what_arrived() {
    let mut sink = SmtpSink::start().await;
    send(sink.port(), "a@messenger.test", &["b@example.com"], PLAIN).await;
    let waited = tokio::spawn(async move {
        sink.wait_for_messages(2, Duration::from_millis(300)).await;
    })
    .await;
    let panic = waited.expect_err("waiting for a message that never comes must fail");
    let message = panic
        .into_panic()
        .downcast::<String>()
        .map(|message| *message)
        .unwrap_or_default();
    assert!(
        message.contains("expected 2 message(s)") && message.contains("\"Your conversation\""),
        "{message}"
    );
}

#[test]
fn parses_without_a_server() {
    let mail = Mail::parse(b"Subject: =?utf-8?q?a?= =?utf-8?q?b?= c\r\n\r\nbody\r\n");
    assert_eq!(mail.subject, "ab c");
    assert_eq!(mail.text, "body\n");
    assert_eq!(
        smtp::links("(see https://a.test/x), and http://b.test/y."),
        ["https://a.test/x", "http://b.test/y"]
    );
}
