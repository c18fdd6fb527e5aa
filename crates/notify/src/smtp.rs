//! A small SMTP client: EHLO, STARTTLS (or implicit TLS on port 465), AUTH PLAIN/LOGIN,
//! one message. Reply codes decide the outcome: 4xx is transient, 5xx permanent.

use std::net::IpAddr;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::body::base64;
use crate::config::Email;
use crate::send::{Client, Outcome};

/// Longest reply line read; RFC 5321 allows 512 octets, servers exceed it a little.
const MAX_LINE: u64 = 4096;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

#[derive(Debug, thiserror::Error)]
enum SmtpError {
    /// Connection refused, reset or closed: the server may be back soon.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("server replied {code} {text}")]
    Reply { code: u16, text: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("{0}")]
    Refused(String),
    #[error("malformed reply {0:?}")]
    Malformed(String),
}

impl SmtpError {
    fn outcome(self, step: &str) -> Outcome {
        let reason = format!("SMTP {step}: {self}");
        match self {
            SmtpError::Io(_) | SmtpError::Malformed(_) => Outcome::Retry {
                reason,
                after: None,
            },
            SmtpError::Reply { code, .. } if (400..500).contains(&code) => Outcome::Retry {
                reason,
                after: None,
            },
            SmtpError::Reply { .. } | SmtpError::Tls(_) | SmtpError::Refused(_) => {
                Outcome::Failed { reason }
            }
        }
    }
}

struct Reply {
    code: u16,
    lines: Vec<String>,
}

struct Session {
    stream: BufReader<Box<dyn Stream>>,
    tls: bool,
}

impl Session {
    async fn read_reply(&mut self) -> Result<Reply, SmtpError> {
        let mut lines = Vec::new();
        loop {
            let mut raw = Vec::new();
            (&mut self.stream)
                .take(MAX_LINE)
                .read_until(b'\n', &mut raw)
                .await?;
            if raw.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                )
                .into());
            }
            let line = String::from_utf8_lossy(&raw).trim_end().to_string();
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| SmtpError::Malformed(line.clone()))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok(Reply { code, lines });
            }
        }
    }

    async fn command(&mut self, line: &str, expect: &[u16]) -> Result<Reply, SmtpError> {
        self.stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await?;
        self.stream.get_mut().flush().await?;
        self.expect(expect).await
    }

    async fn expect(&mut self, expect: &[u16]) -> Result<Reply, SmtpError> {
        let reply = self.read_reply().await?;
        if expect.contains(&reply.code) {
            Ok(reply)
        } else {
            Err(SmtpError::Reply {
                code: reply.code,
                text: reply.lines.join(" "),
            })
        }
    }

    async fn ehlo(&mut self, hello: &str) -> Result<Vec<String>, SmtpError> {
        let reply = self.command(&format!("EHLO {hello}"), &[250]).await?;
        Ok(reply
            .lines
            .into_iter()
            .skip(1)
            .map(|l| l.to_ascii_uppercase())
            .collect())
    }

    async fn start_tls(self, client: &Client, host: &str) -> Result<Session, SmtpError> {
        // Bytes already buffered past the 220 would be read as if they came over TLS.
        if !self.stream.buffer().is_empty() {
            return Err(SmtpError::Refused("data after STARTTLS reply".into()));
        }
        let inner = self.stream.into_inner();
        let stream = tls_wrap(inner, client, host).await?;
        Ok(Session {
            stream: BufReader::new(stream),
            tls: true,
        })
    }
}

async fn tls_wrap(
    inner: Box<dyn Stream>,
    client: &Client,
    host: &str,
) -> Result<Box<dyn Stream>, SmtpError> {
    let name = ServerName::try_from(host.to_string()).map_err(|e| SmtpError::Tls(e.to_string()))?;
    let stream = TlsConnector::from(client.tls.clone())
        .connect(name, inner)
        .await
        .map_err(|e| SmtpError::Tls(e.to_string()))?;
    Ok(Box::new(stream))
}

fn extension<'a>(extensions: &'a [String], name: &str) -> Option<&'a str> {
    extensions.iter().find_map(|e| {
        let (keyword, rest) = e.split_once(' ').unwrap_or((e.as_str(), ""));
        (keyword == name).then_some(rest)
    })
}

/// The address inside `Name <addr>`, or the whole string.
fn address(s: &str) -> &str {
    match (s.rfind('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close => &s[open + 1..close],
        _ => s.trim(),
    }
}

/// Dot-stuffing (RFC 5321 §4.5.2) with CRLF line ends, terminated by `.`.
fn dot_stuffed(data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 8);
    for line in data.split_inclusive('\n') {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

/// Sends the RFC 5322 `data` to every recipient of `email`, within the client's timeout.
pub(crate) async fn send(email: &Email, data: &str, client: &Client) -> Outcome {
    match tokio::time::timeout(client.timeout, session(email, data, client)).await {
        Ok(Ok(())) => Outcome::Delivered,
        Ok(Err((step, e))) => e.outcome(step),
        Err(_) => Outcome::Retry {
            reason: format!("SMTP timed out after {:?}", client.timeout),
            after: None,
        },
    }
}

async fn session(
    email: &Email,
    data: &str,
    client: &Client,
) -> Result<(), (&'static str, SmtpError)> {
    let host = email.smarthost.host.as_str();
    let tcp = TcpStream::connect((host, email.smarthost.port))
        .await
        .map_err(|e| ("connect", e.into()))?;
    let mut stream: Box<dyn Stream> = Box::new(tcp);
    let implicit_tls = email.smarthost.port == 465;
    if implicit_tls {
        stream = tls_wrap(stream, client, host)
            .await
            .map_err(|e| ("connect", e))?;
    }
    let mut s = Session {
        stream: BufReader::new(stream),
        tls: implicit_tls,
    };
    s.expect(&[220]).await.map_err(|e| ("greeting", e))?;
    let mut extensions = s.ehlo(&email.hello).await.map_err(|e| ("EHLO", e))?;
    if email.require_tls && !s.tls {
        if extension(&extensions, "STARTTLS").is_none() {
            return Err((
                "STARTTLS",
                SmtpError::Refused("server does not offer STARTTLS".into()),
            ));
        }
        s.command("STARTTLS", &[220])
            .await
            .map_err(|e| ("STARTTLS", e))?;
        s = s
            .start_tls(client, host)
            .await
            .map_err(|e| ("STARTTLS", e))?;
        extensions = s.ehlo(&email.hello).await.map_err(|e| ("EHLO", e))?;
    }
    if let Some(user) = &email.auth_username {
        let password = email.auth_password.as_deref().unwrap_or("");
        authenticate(&mut s, &extensions, host, user, password)
            .await
            .map_err(|e| ("AUTH", e))?;
    }
    s.command(&format!("MAIL FROM:<{}>", address(&email.from)), &[250])
        .await
        .map_err(|e| ("MAIL FROM", e))?;
    for to in email.recipients() {
        s.command(&format!("RCPT TO:<{}>", address(to)), &[250, 251])
            .await
            .map_err(|e| ("RCPT TO", e))?;
    }
    s.command("DATA", &[354]).await.map_err(|e| ("DATA", e))?;
    let stuffed = dot_stuffed(data);
    s.stream
        .get_mut()
        .write_all(stuffed.as_bytes())
        .await
        .map_err(|e| ("DATA", e.into()))?;
    s.stream
        .get_mut()
        .flush()
        .await
        .map_err(|e| ("DATA", e.into()))?;
    s.expect(&[250]).await.map_err(|e| ("DATA", e))?;
    // The message is accepted; a failed QUIT changes nothing.
    let _ = s.command("QUIT", &[221]).await;
    Ok(())
}

async fn authenticate(
    s: &mut Session,
    extensions: &[String],
    host: &str,
    user: &str,
    password: &str,
) -> Result<(), SmtpError> {
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !s.tls && !loopback {
        return Err(SmtpError::Refused(
            "refusing to send credentials without TLS".into(),
        ));
    }
    let mechanisms: Vec<&str> = extension(extensions, "AUTH")
        .ok_or_else(|| SmtpError::Refused("server does not offer AUTH".into()))?
        .split_whitespace()
        .collect();
    if mechanisms.contains(&"PLAIN") {
        let token = base64(format!("\0{user}\0{password}").as_bytes());
        s.command(&format!("AUTH PLAIN {token}"), &[235]).await?;
    } else if mechanisms.contains(&"LOGIN") {
        s.command("AUTH LOGIN", &[334]).await?;
        s.command(&base64(user.as_bytes()), &[334]).await?;
        s.command(&base64(password.as_bytes()), &[235]).await?;
    } else {
        return Err(SmtpError::Refused(format!(
            "no supported AUTH mechanism in {mechanisms:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_escapes_leading_dots_and_terminates() {
        assert_eq!(dot_stuffed("a\r\n.b\n..c"), "a\r\n..b\r\n...c\r\n.\r\n");
    }

    #[test]
    fn address_takes_the_angle_brackets() {
        assert_eq!(
            address("Headroom <alerts@example.com>"),
            "alerts@example.com"
        );
        assert_eq!(address(" ops@example.com "), "ops@example.com");
    }

    #[test]
    fn extensions_are_matched_by_keyword() {
        let ext = vec![
            "SIZE 100".to_string(),
            "AUTH LOGIN PLAIN".to_string(),
            "STARTTLS".to_string(),
        ];
        assert_eq!(extension(&ext, "AUTH"), Some("LOGIN PLAIN"));
        assert_eq!(extension(&ext, "STARTTLS"), Some(""));
        assert_eq!(extension(&ext, "SMTPUTF8"), None);
    }

    #[test]
    fn reply_codes_classify() {
        let r = |code| {
            SmtpError::Reply {
                code,
                text: String::new(),
            }
            .outcome("RCPT TO")
        };
        assert!(matches!(r(451), Outcome::Retry { .. }));
        assert!(matches!(r(550), Outcome::Failed { .. }));
        assert!(matches!(
            SmtpError::Io(std::io::ErrorKind::ConnectionReset.into()).outcome("DATA"),
            Outcome::Retry { .. }
        ));
    }
}
