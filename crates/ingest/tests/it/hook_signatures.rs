//! Hook credentials: GitHub's `X-Hub-Signature-256` against GitHub's documented test vector;
//! valid, invalid, missing and made with another secret.

use headroom_ingest::github;
use headroom_ingest::hook::SignatureError;

const GITHUB_DEPLOYMENT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/fixtures/github/deployment_status/payload.json"
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
