//! Email against a real SMTP server: Python's aiosmtpd with STARTTLS and AUTH required.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use headroom_notify::*;
use serde_json::Value;

use crate::common::*;

/// Accepts `alerts`/`secret`; `busy…` recipients get a transient 451, `nobody…` a permanent
/// 550. Each accepted message is appended to the output file as one JSON line before the 250,
/// so it is there when the client has its answer.
const SERVER: &str = r#"
import email, email.policy, json, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, out, exclude = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
logins = []

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"alerts" and auth_data.password == b"secret"
    if ok:
        logins.append((mechanism, auth_data.login.decode()))
    return AuthResult(success=ok, handled=False)

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("busy"):
            return "451 4.3.2 try again later"
        if address.startswith("nobody"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        raw = envelope.original_content
        record = {
            # One connection per client port: deliveries through a pool share it.
            "peer": session.peer[1],
            "mail_options": envelope.mail_options,
            "head": raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace"),
            "longest_line": max(len(line) for line in raw.split(b"\r\n")),
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "login": logins[-1][1] if logins else None,
            "mechanism": logins[-1][0] if logins else None,
            "headers": {k: str(v) for k, v in msg.items()},
            # Lines of a 7bit or quoted-printable part travel with CRLF ends.
            "text": msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n"),
            "html": msg.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n"),
        }
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK queued"

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Handler(), hostname="127.0.0.1", port=port,
    tls_context=context, require_starttls=True, enable_SMTPUTF8=True,
    authenticator=authenticator, auth_required=True, auth_require_tls=True,
    auth_exclude_mechanism=[exclude] if exclude != "-" else [],
)
controller.start()
print("READY", flush=True)
sys.stdin.read()
controller.stop()
"#;

struct SmtpServer {
    child: Child,
    port: u16,
    out: PathBuf,
    ca_der: Vec<u8>,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    fn start(exclude_mechanism: Option<&str>) -> SmtpServer {
        let has_aiosmtpd = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            has_aiosmtpd,
            "the email tests need python3 with aiosmtpd: pip install aiosmtpd"
        );

        let dir = tempfile::tempdir().unwrap();
        let (ca_der, cert_pem, key_pem) = certificates();
        let write = |name: &str, data: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, data).unwrap();
            path
        };
        let cert = write("cert.pem", &cert_pem);
        let key = write("key.pem", &key_pem);
        let script = write("server.py", SERVER);
        let out = dir.path().join("messages.jsonl");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(port.to_string())
            .arg(&cert)
            .arg(&key)
            .arg(&out)
            .arg(exclude_mechanism.unwrap_or("-"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        if ready.trim() != "READY" {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err);
            panic!("aiosmtpd did not start: {err}");
        }
        SmtpServer {
            child,
            port,
            out,
            ca_der,
            _dir: dir,
        }
    }

    fn messages(&self) -> Vec<Value> {
        read_messages(&self.out)
    }

    fn email(&self) -> Email {
        Email {
            to: "oncall@example.com, lead@example.com".into(),
            from: "Headroom <alerts@example.com>".into(),
            smarthost: format!("127.0.0.1:{}", self.port).parse().unwrap(),
            auth_username: Some("alerts".into()),
            auth_password: Some("secret".into()),
            require_tls: true,
            hello: "headroom.test".into(),
            subject: None,
            text: None,
            html: None,
            send_resolved: false,
        }
    }

    fn client(&self) -> Client {
        Client::with_roots(Duration::from_secs(10), std::slice::from_ref(&self.ca_der)).unwrap()
    }
}

/// Delivers the test message through `email`.
async fn send(email: Email, client: &Client, key: &str) -> Outcome {
    send_message(email, &message(), client, key).await
}

async fn send_message(email: Email, message: &Message, client: &Client, key: &str) -> Outcome {
    deliver(
        &Integration::Email(email),
        message,
        &Templates::default(),
        client,
        key,
    )
    .await
}

fn read_messages(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(s) => s
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA DER, server PEM, key PEM).
fn certificates() -> (Vec<u8>, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "notify test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.der().to_vec(), cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn email_goes_over_starttls_with_auth_plain() {
    let server = SmtpServer::start(None);
    let outcome = send(server.email(), &server.client(), "notif-7").await;
    assert_eq!(outcome, Outcome::Delivered);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["tls"], true);
    assert_eq!(m["mechanism"], "PLAIN");
    assert_eq!(m["login"], "alerts");
    assert_eq!(m["mail_from"], "alerts@example.com");
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "lead@example.com"])
    );
    let h = &m["headers"];
    assert_eq!(h["Subject"], "[FIRING:2] HighErrorRate (page)");
    assert_eq!(h["From"], "Headroom <alerts@example.com>");
    assert_eq!(h["To"], "oncall@example.com, lead@example.com");
    assert_eq!(h["Message-ID"], "<notif-7@example.com>");
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("Burn rate: 14.4x"), "{text}");
    assert!(
        text.contains("Acknowledge: http://headroom.example.com/ack/abc"),
        "{text}"
    );
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains("<tr><td>Budget remaining</td><td>42%</td></tr>"),
        "{html}"
    );
}

#[tokio::test]
async fn email_uses_auth_login_when_plain_is_not_offered_and_encodes_the_subject() {
    let server = SmtpServer::start(Some("PLAIN"));
    let mut email = server.email();
    email.subject = Some("Budget für {{ alerts[0].slo.id }}\n. leading dot".into());
    email.text = Some("line\n.starts with a dot\nend".into());
    let outcome = send(email, &server.client(), "k").await;
    assert_eq!(outcome, Outcome::Delivered);
    let m = &server.messages()[0];
    assert_eq!(m["mechanism"], "LOGIN");
    assert_eq!(
        m["headers"]["Subject"],
        "Budget für checkout-availability . leading dot"
    );
    assert_eq!(m["text"], "line\n.starts with a dot\nend");
}

#[tokio::test]
async fn smtp_replies_classify_transient_and_permanent() {
    let server = SmtpServer::start(None);
    let mut busy = server.email();
    busy.to = "busy@example.com".into();
    let Outcome::Retry {
        reason,
        after: None,
    } = send(busy, &server.client(), "k").await
    else {
        panic!("451 is transient")
    };
    assert!(
        reason.starts_with("SMTP: server replied 451 4.3.2 try again later"),
        "{reason}"
    );

    let mut nobody = server.email();
    nobody.to = "nobody@example.com".into();
    let Outcome::Failed { reason } = send(nobody, &server.client(), "k").await else {
        panic!("550 is permanent")
    };
    assert!(
        reason.starts_with("SMTP: server replied 550 5.1.1 no such user"),
        "{reason}"
    );

    let mut wrong = server.email();
    wrong.auth_password = Some("wrong".into());
    let Outcome::Failed { reason } = send(wrong, &server.client(), "k").await else {
        panic!("a refused login is permanent")
    };
    assert!(reason.starts_with("SMTP: server replied 535"), "{reason}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn untrusted_certificate_fails_and_nothing_is_sent() {
    let server = SmtpServer::start(None);
    // Only the web PKI roots: the test CA is unknown.
    let client = Client::new(Duration::from_secs(10)).unwrap();
    let outcome = send(server.email(), &client, "k").await;
    let Outcome::Failed { reason } = outcome else {
        panic!("an untrusted certificate is final: {outcome:?}")
    };
    assert!(
        reason.starts_with("SMTP: TLS: invalid peer certificate: UnknownIssuer"),
        "{reason}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn without_tls_the_server_refuses_auth() {
    let server = SmtpServer::start(None);
    let mut email = server.email();
    // Loopback lets the client try credentials in the clear; the server insists on TLS first.
    email.require_tls = false;
    let outcome = send(email, &server.client(), "k").await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    // The server offers no AUTH before TLS, so there is no mechanism to log in with.
    assert!(
        reason.starts_with("SMTP: No compatible authentication mechanism"),
        "{reason}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn a_closed_smtp_port_is_retried() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let email: Email = serde_json::from_value(serde_json::json!({
        "to": "a@example.com", "from": "b@example.com", "smarthost": format!("127.0.0.1:{port}")
    }))
    .unwrap();
    let client = Client::new(Duration::from_secs(5)).unwrap();
    let outcome = send(email, &client, "k").await;
    let Outcome::Retry { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.starts_with("SMTP: connection: Connection refused"),
        "{reason}"
    );
}

#[test]
fn stdin_close_stops_the_server() {
    // The server runs until its stdin closes; a stopped test must not leave it behind.
    let mut server = SmtpServer::start(None);
    drop(server.child.stdin.take());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_server_that_never_greets_times_out_to_retry() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds the connection without a word.
    let held = tokio::spawn(async move { listener.accept().await.map(|(socket, _)| socket) });
    let email: Email = serde_json::from_value(serde_json::json!({
        "to": "a@example.com", "from": "b@example.com", "smarthost": format!("127.0.0.1:{port}")
    }))
    .unwrap();
    let client = Client::new(Duration::from_millis(300)).unwrap();
    let outcome = send(email, &client, "k").await;
    assert_eq!(
        outcome,
        Outcome::Retry {
            reason: "SMTP timed out after 300ms".into(),
            after: None
        }
    );
    assert!(held.await.unwrap().is_ok());
}

#[tokio::test]
async fn non_ascii_names_and_subject_arrive_encoded_and_long_headers_fold() {
    let server = SmtpServer::start(None);
    let mut email = server.email();
    email.from = "Überwachung Ω <alerts@example.com>".into();
    // An internationalized address too: it needs the server's SMTPUTF8.
    email.to = "Bereitschaft Zoë <zoë@example.com>, lead@example.com".into();
    let words: Vec<String> = (0..200).map(|i| format!("word{i}")).collect();
    let long = words.join(" ");
    assert!(long.len() > 998);
    email.subject = Some(format!("Budget für {{{{ alerts[0].slo.id }}}} {long}"));
    let outcome = send(email, &server.client(), "k").await;
    assert_eq!(outcome, Outcome::Delivered);
    let m = &server.messages()[0];
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["zoë@example.com", "lead@example.com"])
    );
    let options = m["mail_options"].as_array().unwrap();
    assert!(options.contains(&"SMTPUTF8".into()), "{options:?}");
    let h = &m["headers"];
    assert_eq!(h["From"], "Überwachung Ω <alerts@example.com>");
    assert_eq!(
        h["To"],
        "Bereitschaft Zoë <zoë@example.com>, lead@example.com"
    );
    assert_eq!(
        h["Subject"],
        format!("Budget für checkout-availability {long}")
    );
    // On the wire: display names and subject as encoded words, the subject folded.
    let head = m["head"].as_str().unwrap();
    let line = |name: &str| {
        head.split("\r\n")
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    assert!(
        line("From: ").starts_with("From: =?utf-8?b?w5xiZXJ3YWNodW5nIM6p?= <alerts@example.com>"),
        "{head}"
    );
    assert!(line("To: ").contains("=?utf-8?b?"), "{head}");
    assert!(
        line("Subject: ").starts_with("Subject: Budget =?utf-8?b?ZsO8cg==?="),
        "{head}"
    );
    let folded = head.split("\r\n").filter(|l| l.starts_with(' ')).count();
    assert!(folded >= 998 / 78, "{head}");
    assert!(
        m["longest_line"].as_u64().unwrap() <= 78,
        "{}",
        m["longest_line"]
    );
}

#[tokio::test]
async fn deliveries_through_one_client_share_a_pooled_connection() {
    let server = SmtpServer::start(None);
    let client = server.client();
    for key in ["n-1", "n-2", "n-3"] {
        let outcome = send(server.email(), &client, key).await;
        assert_eq!(outcome, Outcome::Delivered);
    }
    // Another EHLO name (as another login) opens its own connection.
    let mut other = server.email();
    other.hello = "other.test".into();
    let outcome = send(other, &client, "n-4").await;
    assert_eq!(outcome, Outcome::Delivered);
    let messages = server.messages();
    let ids: Vec<&str> = messages
        .iter()
        .map(|m| m["headers"]["Message-ID"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "<n-1@example.com>",
            "<n-2@example.com>",
            "<n-3@example.com>",
            "<n-4@example.com>"
        ]
    );
    let peers: Vec<u64> = messages
        .iter()
        .map(|m| m["peer"].as_u64().unwrap())
        .collect();
    assert_eq!(peers[0], peers[1]);
    assert_eq!(peers[1], peers[2]);
    assert_ne!(peers[2], peers[3]);
}

#[test]
fn a_client_that_sent_email_can_be_dropped_outside_the_runtime() {
    let server = SmtpServer::start(None);
    let client = server.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(send(server.email(), &client, "k"));
    assert_eq!(outcome, Outcome::Delivered);
    drop(runtime);
    // The pool's open connection is closed without a runtime to close it on.
    drop(client);
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn hostile_values_arrive_escaped_in_html_and_add_no_header_or_recipient() {
    let server = SmtpServer::start(None);
    let outcome = send_message(server.email(), &hostile_message(), &server.client(), "k").await;
    assert_eq!(outcome, Outcome::Delivered);
    let m = &server.messages()[0];
    assert_eq!(
        m["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "lead@example.com"])
    );
    let names: Vec<&String> = m["headers"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "Content-Type",
            "Date",
            "From",
            "MIME-Version",
            "Message-ID",
            "Subject",
            "To"
        ]
    );
    // The line break became a space; the 100 KB value is there whole, in lines of at most 78.
    let want = hostile_subject().replace("\r\n", " ");
    assert!(m["headers"]["Subject"] == want.as_str(), "subject changed");
    assert!(m["longest_line"].as_u64().unwrap() <= 78);
    let html = m["html"].as_str().unwrap();
    for escaped in [SCRIPT_HTML, IMG_HTML, MENTION_HTML, EXPRESSION, RAW_TAG] {
        assert!(
            html.contains(escaped),
            "{escaped:?} missing from the HTML part"
        );
    }
    for raw in ["<script", "<img", "<!channel>", "<b>", "href=\"javascript"] {
        assert!(!html.contains(raw), "{raw:?} unescaped in the HTML part");
    }
    assert!(!html.contains("49") && html.contains(&long_value()));
    // The text part keeps every value as it is (lines end in `\n` once parsed).
    let text = m["text"].as_str().unwrap();
    for value in [SCRIPT, IMG, EXPRESSION, RAW_TAG, MENTION, "a\nBcc: evil@x"] {
        assert!(text.contains(value), "{value:?} missing from the text part");
    }
    assert!(!text.contains("49") && text.contains(&long_value()));
}
