//! Email against a real SMTP server: Python's aiosmtpd with STARTTLS and AUTH required.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use headroom_notify::*;
use serde_json::Value;

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
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "login": logins[-1][1] if logins else None,
            "mechanism": logins[-1][0] if logins else None,
            "headers": {k: str(v) for k, v in msg.items()},
            "text": msg.get_body(preferencelist=("plain",)).get_content(),
            "html": msg.get_body(preferencelist=("html",)).get_content(),
        }
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK queued"

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Handler(), hostname="127.0.0.1", port=port,
    tls_context=context, require_starttls=True,
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
    let outcome = deliver(
        &Integration::Email(server.email()),
        &message(),
        &Templates::default(),
        &server.client(),
        "notif-7",
    )
    .await;
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
    assert_eq!(h["Message-Id"], "<notif-7@example.com>");
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
    let outcome = deliver(
        &Integration::Email(email),
        &message(),
        &Templates::default(),
        &server.client(),
        "k",
    )
    .await;
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
    let t = Templates::default();
    let mut busy = server.email();
    busy.to = "busy@example.com".into();
    let Outcome::Retry {
        reason,
        after: None,
    } = deliver(
        &Integration::Email(busy),
        &message(),
        &t,
        &server.client(),
        "k",
    )
    .await
    else {
        panic!("451 is transient")
    };
    assert!(
        reason.contains("RCPT TO") && reason.contains("451"),
        "{reason}"
    );

    let mut nobody = server.email();
    nobody.to = "nobody@example.com".into();
    let Outcome::Failed { reason } = deliver(
        &Integration::Email(nobody),
        &message(),
        &t,
        &server.client(),
        "k",
    )
    .await
    else {
        panic!("550 is permanent")
    };
    assert!(reason.contains("550"), "{reason}");

    let mut wrong = server.email();
    wrong.auth_password = Some("wrong".into());
    let Outcome::Failed { reason } = deliver(
        &Integration::Email(wrong),
        &message(),
        &t,
        &server.client(),
        "k",
    )
    .await
    else {
        panic!("a refused login is permanent")
    };
    assert!(
        reason.starts_with("SMTP AUTH: server replied 535"),
        "{reason}"
    );
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn untrusted_certificate_fails_and_nothing_is_sent() {
    let server = SmtpServer::start(None);
    // Only the web PKI roots: the test CA is unknown.
    let client = Client::new(Duration::from_secs(10)).unwrap();
    let outcome = deliver(
        &Integration::Email(server.email()),
        &message(),
        &Templates::default(),
        &client,
        "k",
    )
    .await;
    let Outcome::Failed { reason } = outcome else {
        panic!("an untrusted certificate is final: {outcome:?}")
    };
    assert!(reason.starts_with("SMTP STARTTLS: TLS:"), "{reason}");
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn without_tls_the_server_refuses_auth() {
    let server = SmtpServer::start(None);
    let mut email = server.email();
    // Loopback lets the client try credentials in the clear; the server insists on TLS first.
    email.require_tls = false;
    let outcome = deliver(
        &Integration::Email(email),
        &message(),
        &Templates::default(),
        &server.client(),
        "k",
    )
    .await;
    let Outcome::Failed { reason } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.starts_with("SMTP AUTH:"), "{reason}");
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
    let outcome = deliver(
        &Integration::Email(email),
        &message(),
        &Templates::default(),
        &client,
        "k",
    )
    .await;
    let Outcome::Retry { reason, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.starts_with("SMTP connect:"), "{reason}");
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
    let outcome = deliver(
        &Integration::Email(email),
        &message(),
        &Templates::default(),
        &client,
        "k",
    )
    .await;
    assert_eq!(
        outcome,
        Outcome::Retry {
            reason: "SMTP timed out after 300ms".into(),
            after: None
        }
    );
    assert!(held.await.unwrap().is_ok());
}
