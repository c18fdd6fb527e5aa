//! Hook credentials: GitHub's `X-Hub-Signature-256` against GitHub's documented test vector,
//! GitLab's secret token, and GitLab's signing-token signature against the Standard Webhooks
//! reference vector; each valid, invalid, missing and made with another secret.

use headroom_core::{Span, Timestamp};
use headroom_ingest::github;
use headroom_ingest::gitlab::{self, SignedHeaders, SigningKey};
use headroom_ingest::hook::SignatureError;

const GITHUB_DEPLOYMENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/github/deployment_status/payload.json"
);
const GITLAB_DEPLOYMENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/gitlab/deployment.json"
);

// From GitHub's "Validating webhook deliveries" page.
const GITHUB_SECRET: &[u8] = b"It's a Secret to Everybody";
const GITHUB_PAYLOAD: &[u8] = b"Hello, World!";
const GITHUB_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

const GH: &str = "X-Hub-Signature-256";

#[test]
fn github_documented_test_vector() {
    assert_eq!(
        github::signature(GITHUB_SECRET, GITHUB_PAYLOAD),
        GITHUB_SIGNATURE
    );
    assert_eq!(
        github::verify_signature(GITHUB_SECRET, GITHUB_PAYLOAD, Some(GITHUB_SIGNATURE)),
        Ok(())
    );
    // Hex digits in either case are the same digest.
    let upper = format!("sha256={}", GITHUB_SIGNATURE[7..].to_ascii_uppercase());
    assert_eq!(
        github::verify_signature(GITHUB_SECRET, GITHUB_PAYLOAD, Some(&upper)),
        Ok(())
    );
}

#[test]
fn github_signature_valid_invalid_missing_and_other_secret() {
    let body = std::fs::read(GITHUB_DEPLOYMENT).unwrap();
    let secret = b"hook secret for acme/checkout";
    let header = github::signature(secret, &body);
    assert_eq!(
        github::verify_signature(secret, &body, Some(&header)),
        Ok(())
    );

    let mismatch = Err(SignatureError::Mismatch { header: GH });
    // Another secret.
    assert_eq!(
        github::verify_signature(b"hook secret for acme/billing", &body, Some(&header)),
        mismatch
    );
    // The body changed by one byte after signing.
    let mut tampered = body.clone();
    let at = tampered.iter().position(|&b| b == b'1').unwrap();
    tampered[at] = b'2';
    assert_eq!(
        github::verify_signature(secret, &tampered, Some(&header)),
        mismatch
    );
    // Another digest of the right shape.
    let mut flipped = header.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    assert_eq!(
        github::verify_signature(secret, &body, Some(std::str::from_utf8(&flipped).unwrap())),
        mismatch
    );

    // Missing, or sent empty.
    for header in [None, Some(""), Some("  ")] {
        assert_eq!(
            github::verify_signature(secret, &body, header),
            Err(SignatureError::Missing { header: GH })
        );
    }
    // Not the shape GitHub sends.
    let sha1 = format!("sha1={}", &header[7..47]);
    for bad in [
        &header[7..],
        "sha256=zz",
        &header[..header.len() - 2],
        sha1.as_str(),
    ] {
        let e = github::verify_signature(secret, &body, Some(bad)).unwrap_err();
        assert!(
            matches!(e, SignatureError::Malformed { header: GH, .. }),
            "{bad}: {e:?}"
        );
        assert_eq!(
            e.to_string(),
            "X-Hub-Signature-256 is malformed: expected sha256= and 64 hexadecimal digits"
        );
    }
}

const TOKEN: &str = "X-Gitlab-Token";

#[test]
fn gitlab_token_valid_invalid_missing_and_other_secret() {
    let expected = "s3cr3t-token-for-checkout";
    assert_eq!(gitlab::verify_token(expected, Some(expected)), Ok(()));
    let mismatch = Err(SignatureError::Mismatch { header: TOKEN });
    for sent in [
        "s3cr3t-token-for-billing",
        "s3cr3t-token-for-checkou",
        "s3cr3t-token-for-checkout ",
        "",
    ] {
        assert_eq!(
            gitlab::verify_token(expected, Some(sent)),
            mismatch,
            "{sent:?}"
        );
    }
    assert_eq!(
        gitlab::verify_token(expected, None),
        Err(SignatureError::Missing { header: TOKEN })
    );
}

// The Standard Webhooks reference vector (its libraries' signing test), the scheme GitLab's
// signing tokens follow.
const SW_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TIMESTAMP: i64 = 1_614_265_330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn signed<'a>(id: &'a str, timestamp: &'a str, signature: &'a str) -> SignedHeaders<'a> {
    SignedHeaders {
        id: Some(id),
        timestamp: Some(timestamp),
        signature: Some(signature),
    }
}

#[test]
fn gitlab_signature_reference_vector() {
    let key = SigningKey::parse(SW_KEY).unwrap();
    assert_eq!(
        gitlab::signature(&key, SW_ID, SW_TIMESTAMP, SW_BODY),
        SW_SIGNATURE
    );
    let now = Timestamp::from_secs(SW_TIMESTAMP);
    let ts = SW_TIMESTAMP.to_string();
    assert_eq!(
        gitlab::verify_signature(&key, signed(SW_ID, &ts, SW_SIGNATURE), SW_BODY, now),
        Ok(())
    );
    // The key without its prefix is the same key.
    let bare = SigningKey::parse(SW_KEY.trim_start_matches("whsec_")).unwrap();
    assert_eq!(bare, key);
    assert_eq!(format!("{key:?}"), "SigningKey(..)");
}

#[test]
fn gitlab_signature_valid_invalid_missing_and_other_secret() {
    let body = std::fs::read(GITLAB_DEPLOYMENT).unwrap();
    // A token as GitLab makes them: whsec_ and 32 random bytes in base64.
    let key = SigningKey::parse("whsec_q9b0Yc2m3Zq6nT8uP1rW4xE7aD0fG3jK5lN8oR1sU4w=").unwrap();
    let other = SigningKey::parse("whsec_ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=").unwrap();
    let id = "3f6e1f4b-6a0e-4f0a-9a53-2f3c1b7d9e21";
    let sent_at = 1_772_700_000;
    let ts = sent_at.to_string();
    let now = Timestamp::from_secs(sent_at) + Span::seconds(2);
    let good = gitlab::signature(&key, id, sent_at, &body);
    let verify = |headers: SignedHeaders<'_>, body: &[u8]| {
        gitlab::verify_signature(&key, headers, body, now)
    };
    assert_eq!(verify(signed(id, &ts, &good), &body), Ok(()));

    let mismatch = Err(SignatureError::Mismatch {
        header: "webhook-signature",
    });
    // Another signing token.
    let theirs = gitlab::signature(&other, id, sent_at, &body);
    assert_eq!(verify(signed(id, &ts, &theirs), &body), mismatch);
    // The body, the id or the timestamp changed after signing.
    assert_eq!(verify(signed(id, &ts, &good), &body[1..]), mismatch);
    assert_eq!(verify(signed("another-id", &ts, &good), &body), mismatch);
    let later = (sent_at + 1).to_string();
    assert_eq!(verify(signed(id, &later, &good), &body), mismatch);
    // Not base64 at all, or a v1 signature of another request.
    assert_eq!(verify(signed(id, &ts, "v1,not base64!"), &body), mismatch);
    assert_eq!(verify(signed(id, &ts, SW_SIGNATURE), &body), mismatch);

    // While keys rotate GitLab may send several; one matching is enough, whatever its place.
    let several = format!("v1,{} v1a,c2lnbmF0dXJl {good}", &theirs[3..]);
    assert_eq!(verify(signed(id, &ts, &several), &body), Ok(()));

    // Each header missing, or sent empty, is named.
    for (headers, missing) in [
        (
            SignedHeaders {
                id: None,
                ..signed(id, &ts, &good)
            },
            "webhook-id",
        ),
        (
            SignedHeaders {
                timestamp: None,
                ..signed(id, &ts, &good)
            },
            "webhook-timestamp",
        ),
        (
            SignedHeaders {
                signature: None,
                ..signed(id, &ts, &good)
            },
            "webhook-signature",
        ),
        (
            SignedHeaders {
                signature: Some(" "),
                ..signed(id, &ts, &good)
            },
            "webhook-signature",
        ),
    ] {
        assert_eq!(
            verify(headers, &body),
            Err(SignatureError::Missing { header: missing })
        );
    }
    // Malformed: a timestamp that is not Unix seconds, a signature with no v1 in it.
    assert!(matches!(
        verify(signed(id, "2026-03-05T10:00:00Z", &good), &body),
        Err(SignatureError::Malformed {
            header: "webhook-timestamp",
            ..
        })
    ));
    let e = verify(signed(id, &ts, "v2,abc"), &body).unwrap_err();
    assert_eq!(
        e.to_string(),
        "webhook-signature is malformed: no v1,<base64> signature in it"
    );
}

#[test]
fn gitlab_signature_outside_the_tolerance_is_refused() {
    let key = SigningKey::parse(SW_KEY).unwrap();
    let ts = SW_TIMESTAMP.to_string();
    let sent = Timestamp::from_secs(SW_TIMESTAMP);
    let five_minutes = Span::minutes(5);
    assert_eq!(gitlab::SIGNATURE_TOLERANCE, five_minutes);
    let check = |now: Timestamp| {
        gitlab::verify_signature(&key, signed(SW_ID, &ts, SW_SIGNATURE), SW_BODY, now)
    };
    // Exactly at the edge either way: accepted.
    assert_eq!(check(sent + five_minutes), Ok(()));
    assert_eq!(check(sent - five_minutes), Ok(()));
    // A second past it: a replay (sent long ago) or a request from the future.
    for now in [
        sent + five_minutes + Span::SECOND,
        sent - five_minutes - Span::SECOND,
    ] {
        let e = check(now).unwrap_err();
        assert_eq!(
            e,
            SignatureError::Stale {
                header: "webhook-timestamp",
                sent,
                now,
                tolerance_secs: 300
            }
        );
    }
}

#[test]
fn gitlab_signing_tokens_that_are_not_base64_are_refused() {
    for bad in ["whsec_", "whsec_not*base64", "plain-secret-token"] {
        let e = SigningKey::parse(bad).unwrap_err();
        assert!(e.to_string().starts_with("signing token "), "{bad}: {e}");
    }
}
