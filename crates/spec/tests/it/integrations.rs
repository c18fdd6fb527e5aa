//! `integrations`: PagerDuty senders known by the SHA-256 of their routing key, never the key.

use headroom_spec::load_paths;
use sha2::Digest;

#[test]
fn routing_keys_are_kept_only_as_hashes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cron.key"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        "integrations:\n  - name: cron\n    pagerduty_events: {routing_key_file: cron.key}\n    service: billing\n    labels: {team: money}\n  - name: other\n    pagerduty_events: {routing_key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}\n",
    )
    .unwrap();
    let c = load_paths(&[path]).unwrap();
    assert_eq!(c.integrations.len(), 2);
    let cron = &c.integrations[0];
    // sha256("0123456789abcdef0123456789abcdef"), trailing newline of the file not included.
    let want: [u8; 32] = sha2::Sha256::digest(b"0123456789abcdef0123456789abcdef").into();
    assert_eq!(cron.routing_key_sha256, want);
    assert_eq!(cron.service.as_deref(), Some("billing"));
    assert_eq!(cron.labels["team"], "money");
    assert!(!format!("{c:?}").contains("0123456789abcdef0123456789abcdef"));
}

#[test]
fn mistakes_are_located() {
    let e = match headroom_spec::load_str(
        "i.yaml",
        "integrations:\n  - name: a\n    pagerduty_events: {routing_key_sha256: abc}\n  - name: b\n    pagerduty_events: {}\n  - name: c\n    pagerduty_events: {routing_key_file: missing.key}\n",
    ) {
        Ok(_) => panic!("should fail"),
        Err(p) => p.iter().map(ToString::to_string).collect::<Vec<_>>(),
    };
    assert_eq!(
        e[0],
        "i.yaml:3:44: routing_key_sha256 must be 64 hexadecimal digits (sha256sum of the key)"
    );
    assert_eq!(
        e[1],
        "i.yaml:5:23: pagerduty_events needs routing_key_sha256 or routing_key_file"
    );
    assert!(
        e[2].starts_with("i.yaml:7:42: cannot read missing.key"),
        "{e:?}"
    );
}
