//! DNS probes against a real dnsmasq started per test on a free loopback port: every record
//! type dnsmasq serves, Gatus's rcode names, the TCP retry of a truncated UDP answer, and the
//! next nameserver when one cannot be reached. One fake responder covers what dnsmasq never
//! sends: forged and malformed replies.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use headroom_probe::{DnsProbe, ProbeKind, RecordType, Resolver};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType as WireType, rdata::A};

use crate::run::{details, run, spec};

const DNSMASQ: &str = "/usr/sbin/dnsmasq";
/// The EDNS payload size hickory advertises: an answer longer than this cannot have come
/// over UDP.
const UDP_PAYLOAD: usize = 1232;

/// A dnsmasq serving `records` for the `test` domain on 127.0.0.1 (UDP and TCP), killed on
/// drop. `--local=/test/` makes it answer for the domain itself (NXDOMAIN for unknown names);
/// with no upstream it refuses everything else.
struct Dnsmasq {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    fn start(records: &[String]) -> Self {
        assert!(
            Path::new(DNSMASQ).exists(),
            "{DNSMASQ} is missing: the DNS probe tests run a real dnsmasq; install Debian's \
             dnsmasq-base (apt-get install -y --no-install-recommends dnsmasq-base), as .ci/run does"
        );
        // A port taken between choosing it and dnsmasq binding it makes dnsmasq exit: try another.
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("dnsmasq.log");
            let child = Command::new(DNSMASQ)
                .args([
                    // Foreground, no pid file, no change of user, TCP served in process.
                    "--no-daemon".to_string(),
                    "--conf-file=/dev/null".into(),
                    "--no-resolv".into(),
                    "--no-hosts".into(),
                    format!("--port={port}"),
                    "--listen-address=127.0.0.1".into(),
                    "--bind-interfaces".into(),
                    "--local=/test/".into(),
                ])
                .args(records)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("starting {DNSMASQ}: {e}"));
            let mut server = Dnsmasq {
                child,
                port,
                _dir: dir,
            };
            if server.ready() {
                return server;
            }
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("dnsmasq did not start:\n{last_log}");
    }

    /// Polls with a query until dnsmasq answers on UDP and accepts TCP; false if it exited.
    fn ready(&mut self) -> bool {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut query = Message::query();
        query.add_query(Query::query(
            Name::from_ascii("ready.test.").unwrap(),
            WireType::A,
        ));
        let packet = query.to_vec().unwrap();
        let give_up = Instant::now() + Duration::from_secs(20);
        while Instant::now() < give_up {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            socket.send_to(&packet, self.addr()).unwrap();
            let mut buf = [0u8; 512];
            if let Ok((n, _)) = socket.recv_from(&mut buf)
                && Message::from_vec(&buf[..n]).is_ok()
                && std::net::TcpStream::connect(self.addr()).is_ok()
            {
                return true;
            }
        }
        panic!("dnsmasq on port {} did not answer within 20s", self.port);
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn resolver(&self) -> Resolver {
        self.addr().to_string().parse().unwrap()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free for both UDP and TCP at the time of asking.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A port nothing listens on, UDP or TCP.
fn closed_port() -> u16 {
    free_port()
}

/// Ten TXT records of some 200 bytes for `big.test`: about 2 KB, over the 1232 bytes a UDP
/// answer may take, so dnsmasq truncates it over UDP and sends it whole over TCP.
fn big_txt() -> Vec<String> {
    (0..10)
        .map(|i| format!("--txt-record=big.test,{i}{}", "x".repeat(200)))
        .collect()
}

fn records() -> Vec<String> {
    let mut records: Vec<String> = [
        "--host-record=web.test,192.0.2.10,2001:db8::10",
        "--address=/wild.test/127.0.0.9",
        "--cname=www.test,web.test",
        "--mx-host=web.test,mail.web.test,10",
        "--srv-host=_sip._tcp.web.test,sip.web.test,5060,1,1",
        // One record of two strings.
        "--txt-record=web.test,v=spf1,-all",
        "--ptr-record=9.0.0.127.in-addr.arpa,loopback.test",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    records.extend(big_txt());
    records
}

fn dns(resolvers: Vec<Resolver>, name: &str, record_type: RecordType) -> ProbeKind {
    ProbeKind::Dns(DnsProbe {
        name: name.into(),
        record_type,
        resolvers,
    })
}

#[tokio::test]
async fn dns_every_record_type_reads_as_gatus_shows_it() {
    let server = Dnsmasq::start(&records());
    let at = || vec![server.resolver()];
    let cases = [
        ("web.test", RecordType::A, "192.0.2.10"),
        ("web.test", RecordType::Aaaa, "2001:db8::10"),
        // The CNAME chain in front of the address is not part of an A answer's body.
        ("www.test", RecordType::A, "192.0.2.10"),
        ("www.test", RecordType::Cname, "web.test."),
        ("anything.wild.test", RecordType::A, "127.0.0.9"),
        ("web.test", RecordType::Mx, "mail.web.test."),
        ("www.test", RecordType::Mx, "mail.web.test."),
        ("_sip._tcp.web.test", RecordType::Srv, "sip.web.test.:5060"),
        ("web.test", RecordType::Txt, "v=spf1-all"),
        // As in Gatus, a PTR probe may name the address itself.
        ("127.0.0.9", RecordType::Ptr, "loopback.test."),
        ("9.0.0.127.in-addr.arpa", RecordType::Ptr, "loopback.test."),
        // dnsmasq answers a host record's address backwards too.
        ("192.0.2.10", RecordType::Ptr, "web.test."),
    ];
    for (name, record_type, body) in cases {
        let result = run(&spec(
            dns(at(), name, record_type),
            &[
                "[DNS_RCODE] == NOERROR",
                &format!("[BODY] == {body}"),
                "[CONNECTED] == true",
            ],
        ))
        .await;
        assert!(result.success, "{name} {record_type}: {result:#?}");
        assert_eq!(
            details(&result),
            [
                "[DNS_RCODE] (NOERROR) == NOERROR".to_string(),
                format!("[BODY] ({body}) == {body}"),
                "[CONNECTED] (true) == true".to_string(),
            ],
            "{name} {record_type}"
        );
        let ip = matches!(record_type, RecordType::A | RecordType::Aaaa).then_some(body);
        assert_eq!(result.ip.as_deref(), ip, "{name} {record_type}");
    }

    // A name without records of the asked type: NOERROR with an empty body.
    let empty = run(&spec(
        dns(at(), "web.test", RecordType::Cname),
        &["[DNS_RCODE] == NOERROR", "len([BODY]) == 0"],
    ))
    .await;
    assert!(empty.success, "{empty:#?}");
}

#[tokio::test]
async fn dns_nxdomain_and_refused_are_answers_judged_by_conditions() {
    let server = Dnsmasq::start(&records());
    let missing = run(&spec(
        dns(vec![server.resolver()], "nothing.test", RecordType::A),
        &[],
    ))
    .await;
    assert!(!missing.success);
    assert_eq!(
        missing.error, None,
        "an NXDOMAIN is an answer, judged by conditions"
    );
    assert_eq!(details(&missing), ["[DNS_RCODE] (NXDOMAIN) == NOERROR"]);

    let expect_nx = run(&spec(
        dns(vec![server.resolver()], "nothing.test", RecordType::A),
        &["[DNS_RCODE] == NXDOMAIN", "len([BODY]) == 0"],
    ))
    .await;
    assert!(expect_nx.success, "{expect_nx:#?}");

    // Outside its domain, with no upstream, dnsmasq refuses. That is an answer: the next
    // resolver, which knows the name, is not asked.
    let knows = Dnsmasq::start(&["--address=/example.com/192.0.2.99".to_string()]);
    let refused = run(&spec(
        dns(
            vec![server.resolver(), knows.resolver()],
            "example.com",
            RecordType::A,
        ),
        &["[DNS_RCODE] == REFUSED", "len([BODY]) == 0"],
    ))
    .await;
    assert!(refused.success, "{refused:#?}");
    assert_eq!(refused.error, None);
    let known = run(&spec(
        dns(vec![knows.resolver()], "example.com", RecordType::A),
        &["[BODY] == 192.0.2.99"],
    ))
    .await;
    assert!(known.success, "{known:#?}");
}

#[tokio::test]
async fn dns_a_truncated_udp_answer_is_asked_again_over_tcp() {
    let server = Dnsmasq::start(&records());
    // Ten records of 201 bytes, one per line, each starting with its digit.
    let length = 10 * 201 + 9;
    assert!(length > UDP_PAYLOAD, "the answer cannot fit UDP");
    let mut conditions = vec![
        "[DNS_RCODE] == NOERROR".to_string(),
        format!("len([BODY]) == {length}"),
    ];
    conditions.extend((0..10).map(|i| format!("[BODY] == pat(*{i}xxxxxxxxxx*)")));
    let conditions: Vec<&str> = conditions.iter().map(String::as_str).collect();
    for resolver in [
        server.resolver(),
        format!("tcp://{}", server.addr()).parse().unwrap(),
    ] {
        let result = run(&spec(
            dns(vec![resolver.clone()], "big.test", RecordType::Txt),
            &conditions,
        ))
        .await;
        assert!(
            result.success,
            "{resolver}: {:?} {:?}",
            result.error,
            details(&result)
        );
    }
}

#[tokio::test]
async fn dns_the_next_resolver_answers_when_one_cannot() {
    let server = Dnsmasq::start(&records());
    let closed = closed_port();
    let silent_udp: Resolver = format!("127.0.0.1:{closed}").parse().unwrap();
    let refused_tcp: Resolver = format!("tcp://127.0.0.1:{closed}").parse().unwrap();

    // A refused TCP connection fails at once; a UDP port that never answers uses up its share
    // of the timeout. Either way the next resolver answers.
    for first in [refused_tcp.clone(), silent_udp.clone()] {
        let mut probe = spec(
            dns(
                vec![first.clone(), server.resolver()],
                "web.test",
                RecordType::A,
            ),
            &["[BODY] == 192.0.2.10"],
        );
        probe.timeout = Duration::from_secs(2);
        let result = run(&probe).await;
        assert!(result.success, "{first}: {result:#?}");
        assert_eq!(result.error, None);
    }

    // None answers: the error names every resolver and what went wrong with it.
    let mut probe = spec(
        dns(vec![refused_tcp, silent_udp], "web.test", RecordType::A),
        &["[CONNECTED] == true"],
    );
    probe.timeout = Duration::from_millis(600);
    let result = run(&probe).await;
    assert!(!result.success);
    let error = result.error.clone().unwrap();
    let (tcp, udp) = error.split_once("; ").expect("one part per resolver");
    assert!(
        tcp.starts_with(&format!("resolver tcp://127.0.0.1:{closed}: ")),
        "{error}"
    );
    assert!(tcp.to_lowercase().contains("refused"), "{error}");
    assert!(
        udp.starts_with(&format!("resolver 127.0.0.1:{closed}: no answer within ")),
        "{error}"
    );
    assert_eq!(details(&result), ["[CONNECTED] (false) == true"]);
}

#[tokio::test]
async fn dns_a_silent_resolver_fails_within_the_timeout() {
    let closed = closed_port();
    let mut probe = spec(
        dns(
            vec![format!("127.0.0.1:{closed}").parse().unwrap()],
            "web.test",
            RecordType::A,
        ),
        &[],
    );
    probe.timeout = Duration::from_millis(500);
    let result = run(&probe).await;
    assert!(!result.success);
    assert_eq!(
        result.error.as_deref(),
        Some(format!("resolver 127.0.0.1:{closed}: no answer within 0.5s").as_str())
    );
    assert_eq!(details(&result), ["[DNS_RCODE] (not observed) == NOERROR"]);
}

#[tokio::test]
async fn dns_a_bad_name_is_an_error_before_any_query() {
    let result = run(&spec(
        dns(
            vec!["127.0.0.1:9".parse().unwrap()],
            "a..b.test",
            RecordType::A,
        ),
        &[],
    ))
    .await;
    let error = result.error.unwrap();
    assert!(
        error.starts_with("invalid DNS name \"a..b.test\": "),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------------
// What dnsmasq never sends
// ---------------------------------------------------------------------------------------------

/// Answers `up.test A` with 192.0.2.7, after first sending a reply with the wrong id and a
/// different address, which must be ignored. Any other name gets a reply with the right id
/// that breaks off inside its answer.
async fn fake_dns_server() -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let (n, from) = socket.recv_from(&mut buf).await.unwrap();
            let query = Message::from_vec(&buf[..n]).unwrap();
            let question = query.queries[0].clone();
            let reply = |id: u16, last: u8| {
                let mut reply = Message::response(id, OpCode::Query);
                reply.metadata.message_type = MessageType::Response;
                reply.metadata.response_code = ResponseCode::NoError;
                reply.add_query(question.clone());
                reply.add_answer(Record::from_rdata(
                    question.name().clone(),
                    30,
                    RData::A(A::new(192, 0, 2, last)),
                ));
                reply.to_vec().unwrap()
            };
            let id = query.metadata.id;
            if question.name().to_ascii() == "up.test." {
                socket.send_to(&reply(id ^ 0xffff, 66), from).await.unwrap();
                socket.send_to(&reply(id, 7), from).await.unwrap();
            } else {
                let whole = reply(id, 7);
                socket
                    .send_to(&whole[..whole.len() - 3], from)
                    .await
                    .unwrap();
            }
        }
    });
    addr
}

#[tokio::test]
async fn dns_fake_forged_reply_is_ignored_and_malformed_reply_is_an_error() {
    let resolver: Resolver = fake_dns_server().await.to_string().parse().unwrap();
    let up = run(&spec(
        dns(vec![resolver.clone()], "up.test", RecordType::A),
        &["[BODY] == 192.0.2.7"],
    ))
    .await;
    assert!(up.success, "{up:#?}");
    assert_eq!(
        up.ip.as_deref(),
        Some("192.0.2.7"),
        "the forged reply was ignored"
    );

    let mut probe = spec(
        dns(vec![resolver.clone()], "broken.test", RecordType::A),
        &[],
    );
    probe.timeout = Duration::from_secs(2);
    let broken = run(&probe).await;
    assert!(!broken.success);
    let error = broken.error.clone().unwrap();
    assert!(
        error.starts_with(&format!("resolver {resolver}: ")),
        "{error}"
    );
    assert!(!error.contains("no answer within"), "a reply came: {error}");
    assert_eq!(details(&broken), ["[DNS_RCODE] (not observed) == NOERROR"]);
}
