//! GitLab webhooks in: the `X-Gitlab-Token` secret and the signing-token signature
//! (`webhook-signature`) verified, and Push, Merge Request, Pipeline and Deployment hooks read
//! into typed facts.
//!
//! A signing token follows the Standard Webhooks scheme GitLab adopted: the token is `whsec_`
//! and a base64 key; GitLab sends `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` (several
//! space-separated signatures while keys rotate).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use headroom_core::{Span, Timestamp};
use hmac::Mac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::alertmanager::FormatError;
use crate::hook::{self, HookError, Node, Sha, SignatureError, first_line};

pub const EVENT_HEADER: &str = "X-Gitlab-Event";
pub const TOKEN_HEADER: &str = "X-Gitlab-Token";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";

/// How far `webhook-timestamp` may be from now, either way (the Standard Webhooks default):
/// a captured request replays for at most this long.
pub const SIGNATURE_TOLERANCE: Span = Span::minutes(5);

/// Checks `X-Gitlab-Token` (`header`, `None` when absent) against the configured secret. Both
/// are hashed first, so the comparison takes the same time whatever their lengths.
pub fn verify_token(expected: &str, header: Option<&str>) -> Result<(), SignatureError> {
    let sent = header.ok_or(SignatureError::Missing {
        header: TOKEN_HEADER,
    })?;
    let (a, b) = (Sha256::digest(expected), Sha256::digest(sent));
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch {
            header: TOKEN_HEADER,
        })
    }
}

/// A webhook signing token's key. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// A signing token that is not `whsec_` and base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing token {0}")]
pub struct KeyError(&'static str);

impl SigningKey {
    /// `whsec_` and the base64 key, as GitLab shows the token (the prefix may be left off).
    pub fn parse(token: &str) -> Result<SigningKey, KeyError> {
        let encoded = token.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        match BASE64.decode(encoded) {
            Ok(key) if !key.is_empty() => Ok(SigningKey(key)),
            Ok(_) => Err(KeyError("is empty")),
            Err(_) => Err(KeyError(
                "is not whsec_ followed by a base64 key (as GitLab shows it)",
            )),
        }
    }
}

/// The three headers of a signed request, each `None` when absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignedHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// The `webhook-signature` value GitLab sends for this request.
pub fn signature(key: &SigningKey, id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    format!(
        "v1,{}",
        BASE64.encode(mac(key, id, timestamp_secs, body).finalize().into_bytes())
    )
}

fn mac(key: &SigningKey, id: &str, timestamp_secs: i64, body: &[u8]) -> hmac::Hmac<Sha256> {
    let mut mac = hook::hmac_sha256(&key.0);
    mac.update(id.as_bytes());
    mac.update(format!(".{timestamp_secs}.").as_bytes());
    mac.update(body);
    mac
}

/// Checks a signed request: all three headers present, the timestamp within
/// [`SIGNATURE_TOLERANCE`] of `now`, and one `v1` signature matching (compared in constant time).
pub fn verify_signature(
    key: &SigningKey,
    headers: SignedHeaders<'_>,
    body: &[u8],
    now: Timestamp,
) -> Result<(), SignatureError> {
    fn present<'h>(
        value: Option<&'h str>,
        header: &'static str,
    ) -> Result<&'h str, SignatureError> {
        value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or(SignatureError::Missing { header })
    }
    let signatures = present(headers.signature, SIGNATURE_HEADER)?;
    let id = present(headers.id, ID_HEADER)?;
    let timestamp = present(headers.timestamp, TIMESTAMP_HEADER)?;
    let secs: i64 = timestamp
        .parse()
        .ok()
        .filter(|s: &i64| s.checked_mul(1000).is_some())
        .ok_or_else(|| SignatureError::Malformed {
            header: TIMESTAMP_HEADER,
            reason: format!("{timestamp:?} is not Unix seconds"),
        })?;
    let sent = Timestamp::from_secs(secs);
    if (sent - now).millis().abs() > SIGNATURE_TOLERANCE.millis() {
        return Err(SignatureError::Stale {
            header: TIMESTAMP_HEADER,
            sent,
            now,
            tolerance_secs: SIGNATURE_TOLERANCE.millis() / 1000,
        });
    }
    let expected = mac(key, id, secs, body);
    let mut v1_seen = false;
    for versioned in signatures.split(' ').filter(|s| !s.is_empty()) {
        // Other versions are other algorithms (v1a is asymmetric); a receiver skips them.
        let Some(encoded) = versioned.strip_prefix("v1,") else {
            continue;
        };
        v1_seen = true;
        if let Ok(digest) = BASE64.decode(encoded)
            && expected.clone().verify_slice(&digest).is_ok()
        {
            return Ok(());
        }
    }
    if v1_seen {
        Err(SignatureError::Mismatch {
            header: SIGNATURE_HEADER,
        })
    } else {
        Err(SignatureError::Malformed {
            header: SIGNATURE_HEADER,
            reason: "no v1,<base64> signature in it".to_string(),
        })
    }
}

/// What one delivery says.
#[derive(Debug, Clone, PartialEq)]
pub enum Hook {
    Push(Push),
    MergedMergeRequest(MergedMergeRequest),
    Pipeline(Pipeline),
    Deployment(Deployment),
    /// A delivery read and understood that carries nothing to keep, and why.
    Ignored {
        reason: String,
    },
}

/// Commits pushed to a branch.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// `project.path_with_namespace`: `group/project`.
    pub project: String,
    pub git_ref: String,
    pub branch: String,
    /// `None` when the push created the branch.
    pub before: Option<Sha>,
    pub after: Sha,
    pub checkout_sha: Option<Sha>,
    /// The newest 20 at most: GitLab lists no more.
    pub commits: Vec<PushedCommit>,
    /// How many commits the push had in all.
    pub total_commits_count: u64,
}

/// One commit of a push. GitLab gives a commit one time, `timestamp`.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedCommit {
    pub id: Sha,
    /// `title`, or the message's first line.
    pub title: String,
    pub timestamp: Timestamp,
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub removed: Vec<String>,
}

/// A merge request merged (action `merge`).
#[derive(Debug, Clone, PartialEq)]
pub struct MergedMergeRequest {
    pub project: String,
    pub id: u64,
    pub iid: u64,
    pub title: String,
    pub source_branch: String,
    pub target_branch: String,
    /// `created_at`.
    pub opened_at: Timestamp,
    /// `merged_at` where the payload has it, else `updated_at`: the hook is sent as the merge
    /// updates the merge request.
    pub merged_at: Timestamp,
    /// `None` for a fast-forward merge, which makes no merge commit: then `last_commit` is what
    /// the target branch got.
    pub merge_commit_sha: Option<Sha>,
    pub last_commit: Option<Sha>,
    pub labels: Vec<String>,
}

/// A pipeline's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineStatus {
    Created,
    WaitingForResource,
    Preparing,
    Pending,
    Running,
    Manual,
    Scheduled,
    Canceling,
    Success,
    Failed,
    Canceled,
    Skipped,
}

impl PipelineStatus {
    pub const ALL: [PipelineStatus; 12] = [
        PipelineStatus::Created,
        PipelineStatus::WaitingForResource,
        PipelineStatus::Preparing,
        PipelineStatus::Pending,
        PipelineStatus::Running,
        PipelineStatus::Manual,
        PipelineStatus::Scheduled,
        PipelineStatus::Canceling,
        PipelineStatus::Success,
        PipelineStatus::Failed,
        PipelineStatus::Canceled,
        PipelineStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PipelineStatus::Created => "created",
            PipelineStatus::WaitingForResource => "waiting_for_resource",
            PipelineStatus::Preparing => "preparing",
            PipelineStatus::Pending => "pending",
            PipelineStatus::Running => "running",
            PipelineStatus::Manual => "manual",
            PipelineStatus::Scheduled => "scheduled",
            PipelineStatus::Canceling => "canceling",
            PipelineStatus::Success => "success",
            PipelineStatus::Failed => "failed",
            PipelineStatus::Canceled => "canceled",
            PipelineStatus::Skipped => "skipped",
        }
    }

    /// Whether the pipeline has ended (and will change no more unless retried).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            PipelineStatus::Success
                | PipelineStatus::Failed
                | PipelineStatus::Canceled
                | PipelineStatus::Skipped
        )
    }
}

/// A finished pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub project: String,
    pub id: u64,
    pub iid: Option<u64>,
    pub name: Option<String>,
    pub git_ref: String,
    pub tag: bool,
    pub sha: Sha,
    pub before_sha: Option<Sha>,
    /// What started it (`push`, `merge_request_event`, `schedule`, …).
    pub source: Option<String>,
    pub status: PipelineStatus,
    pub created_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// The pipeline's jobs that name an environment, in the payload's order.
    pub environments: Vec<JobEnvironment>,
}

/// A job of a pipeline that deploys to (or stops) an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct JobEnvironment {
    pub job_id: u64,
    pub job: String,
    pub stage: Option<String>,
    /// The job's status (`success`, `failed`, `skipped`, `manual`, …).
    pub job_status: String,
    pub finished_at: Option<Timestamp>,
    pub environment: String,
    /// `start`, `stop`, `prepare`, …
    pub action: Option<String>,
    /// `production`, `staging`, `testing`, `development` or `other`.
    pub tier: Option<String>,
}

/// A deployment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentStatus {
    Created,
    Running,
    Success,
    Failed,
    Canceled,
    Skipped,
    Blocked,
}

impl DeploymentStatus {
    pub const ALL: [DeploymentStatus; 7] = [
        DeploymentStatus::Created,
        DeploymentStatus::Running,
        DeploymentStatus::Success,
        DeploymentStatus::Failed,
        DeploymentStatus::Canceled,
        DeploymentStatus::Skipped,
        DeploymentStatus::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Created => "created",
            DeploymentStatus::Running => "running",
            DeploymentStatus::Success => "success",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::Canceled => "canceled",
            DeploymentStatus::Skipped => "skipped",
            DeploymentStatus::Blocked => "blocked",
        }
    }
}

/// A deployment started, succeeded, failed or was canceled. GitLab names its commit by
/// `short_sha` only; `sha` is the full id when `commit_url` carries it, else `None` until
/// [`Deployment::resolve_sha`] finds it among pushed commits.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub project: String,
    pub deployment_id: u64,
    /// The job that ran it; `None` for deployments made through the API.
    pub deployable_id: Option<u64>,
    pub status: DeploymentStatus,
    pub status_changed_at: Timestamp,
    pub environment: String,
    /// `production`, `staging`, `testing`, `development` or `other`.
    pub environment_tier: Option<String>,
    pub environment_external_url: Option<String>,
    pub short_sha: String,
    pub sha: Option<Sha>,
    pub commit_title: Option<String>,
}

impl Deployment {
    /// The deployed commit's full id: `sha` when known, else the one commit of `known` that
    /// `short_sha` abbreviates (`None` when none or several do).
    pub fn resolve_sha<'a>(&self, known: impl IntoIterator<Item = &'a Sha>) -> Option<Sha> {
        if let Some(sha) = &self.sha {
            return Some(sha.clone());
        }
        let mut found: Option<&Sha> = None;
        for candidate in known {
            if candidate.starts_with(&self.short_sha) {
                match found {
                    Some(f) if f != candidate => return None,
                    _ => found = Some(candidate),
                }
            }
        }
        found.cloned()
    }
}

/// Reads one delivery: `event` is `X-Gitlab-Event`, `body` the raw JSON body. For a
/// `System Hook` the body's `object_kind` says what it is; for the others it must agree with
/// the header. A body over [`hook::MAX_HOOK_BYTES`] is refused unread.
pub fn parse(event: &str, body: &[u8]) -> Result<Hook, HookError> {
    let event = event.trim();
    if event.is_empty() {
        return Err(HookError::EventMissing {
            header: EVENT_HEADER,
        });
    }
    let value = hook::json_body(body, event, false)?;
    let root = Node::root(&value);
    read(event, &root).map_err(|error| HookError::Malformed {
        event: event.to_string(),
        error,
    })
}

fn read(event: &str, root: &Node) -> Result<Hook, FormatError> {
    let kind = root.opt_str("object_kind")?;
    let expected = match event {
        "Push Hook" => "push",
        "Tag Push Hook" => "tag_push",
        "Merge Request Hook" => "merge_request",
        "Pipeline Hook" => "pipeline",
        "Deployment Hook" => "deployment",
        "System Hook" => match kind {
            Some(k) => k,
            None => {
                return Ok(ignored(format!(
                    "{event} ({}): not an event headroom reads",
                    root.opt_str("event_name")?.unwrap_or("unnamed")
                )));
            }
        },
        other => {
            return Ok(ignored(format!(
                "{other}: not an event headroom reads (it reads Push, Merge Request, Pipeline \
                 and Deployment hooks)"
            )));
        }
    };
    match kind {
        Some(k) if k == expected => {}
        Some(k) => {
            return Err(root.error(
                "object_kind",
                format!("is {k:?}, but {EVENT_HEADER} says {event:?}"),
            ));
        }
        None => return Err(root.error("object_kind", "is required")),
    }
    match expected {
        "push" => push(root),
        "tag_push" => Ok(ignored(format!(
            "tag push of {}: a tag adds no commits to a branch",
            root.str("ref")?
        ))),
        "merge_request" => merge_request(root),
        "pipeline" => pipeline(root),
        "deployment" => deployment(root),
        other => Ok(ignored(format!(
            "{event} of kind {other}: not an event headroom reads"
        ))),
    }
}

fn ignored(reason: String) -> Hook {
    Hook::Ignored { reason }
}

fn project(root: &Node) -> Result<String, FormatError> {
    Ok(root
        .object("project")?
        .str("path_with_namespace")?
        .to_string())
}

fn status<T: Copy>(
    node: &Node,
    key: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    what: &str,
) -> Result<T, FormatError> {
    let text = node.str(key)?;
    all.iter()
        .copied()
        .find(|s| name(*s) == text)
        .ok_or_else(|| {
            node.error(
                key,
                format!(
                    "{text:?} is not a {what} status (one of {})",
                    all.iter().map(|s| name(*s)).collect::<Vec<_>>().join(", ")
                ),
            )
        })
}

fn push(root: &Node) -> Result<Hook, FormatError> {
    let git_ref = root.str("ref")?;
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return Ok(ignored(format!("push to {git_ref}: not a branch")));
    };
    let after = root.sha("after")?;
    if after.is_zero() {
        return Ok(ignored(format!(
            "push deletes branch {branch}: nothing was added"
        )));
    }
    let commits = root
        .items("commits")?
        .iter()
        .map(|c| {
            Ok(PushedCommit {
                id: c.sha("id")?,
                title: match c.opt_str("title")? {
                    Some(t) => t.to_string(),
                    None => first_line(c.str("message")?),
                },
                timestamp: c.time("timestamp")?,
                added: c.strings("added")?,
                modified: c.strings("modified")?,
                removed: c.strings("removed")?,
            })
        })
        .collect::<Result<Vec<_>, FormatError>>()?;
    Ok(Hook::Push(Push {
        project: project(root)?,
        git_ref: git_ref.to_string(),
        branch: branch.to_string(),
        before: root.nonzero_sha("before")?,
        after,
        checkout_sha: root.opt_sha("checkout_sha")?,
        total_commits_count: root
            .opt_u64("total_commits_count")?
            .unwrap_or(commits.len() as u64),
        commits,
    }))
}

fn merge_request(root: &Node) -> Result<Hook, FormatError> {
    let attrs = root.object("object_attributes")?;
    let iid = attrs.u64("iid")?;
    let action = attrs.opt_str("action")?.unwrap_or("update");
    if action != "merge" {
        return Ok(ignored(format!(
            "merge request !{iid} {action}: only a merge lands a change"
        )));
    }
    let labels = attrs
        .items("labels")?
        .iter()
        .map(|l| l.str("title").map(str::to_string))
        .collect::<Result<_, _>>()?;
    Ok(Hook::MergedMergeRequest(MergedMergeRequest {
        project: project(root)?,
        id: attrs.u64("id")?,
        iid,
        title: attrs.opt_str("title")?.unwrap_or_default().to_string(),
        source_branch: attrs.str("source_branch")?.to_string(),
        target_branch: attrs.str("target_branch")?.to_string(),
        opened_at: attrs.time("created_at")?,
        merged_at: match attrs.opt_time("merged_at")? {
            Some(t) => t,
            None => attrs.time("updated_at")?,
        },
        merge_commit_sha: attrs.opt_sha("merge_commit_sha")?,
        last_commit: match attrs.opt_object("last_commit")? {
            Some(c) => Some(c.sha("id")?),
            None => None,
        },
        labels,
    }))
}

fn pipeline(root: &Node) -> Result<Hook, FormatError> {
    let attrs = root.object("object_attributes")?;
    let id = attrs.u64("id")?;
    let status = status(
        &attrs,
        "status",
        &PipelineStatus::ALL,
        PipelineStatus::as_str,
        "pipeline",
    )?;
    if !status.is_finished() {
        return Ok(ignored(format!(
            "pipeline {id} is {}: only a finished pipeline is read",
            status.as_str()
        )));
    }
    let mut environments = Vec::new();
    for build in root.items("builds")? {
        let Some(env) = build.opt_object("environment")? else {
            continue;
        };
        environments.push(JobEnvironment {
            job_id: build.u64("id")?,
            job: build.str("name")?.to_string(),
            stage: build.opt_str("stage")?.map(str::to_string),
            job_status: build.str("status")?.to_string(),
            finished_at: build.opt_time("finished_at")?,
            environment: env.str("name")?.to_string(),
            action: env.opt_str("action")?.map(str::to_string),
            tier: env.opt_str("deployment_tier")?.map(str::to_string),
        });
    }
    Ok(Hook::Pipeline(Pipeline {
        project: project(root)?,
        id,
        iid: attrs.opt_u64("iid")?,
        name: attrs.opt_str("name")?.map(str::to_string),
        git_ref: attrs.str("ref")?.to_string(),
        tag: attrs.opt_bool("tag")?.unwrap_or(false),
        sha: attrs.sha("sha")?,
        before_sha: attrs.nonzero_sha("before_sha")?,
        source: attrs.opt_str("source")?.map(str::to_string),
        status,
        created_at: attrs.opt_time("created_at")?,
        finished_at: attrs.opt_time("finished_at")?,
        environments,
    }))
}

fn deployment(root: &Node) -> Result<Hook, FormatError> {
    let short_sha = root.str("short_sha")?;
    if !(4..=64).contains(&short_sha.len()) || !short_sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(root.error(
            "short_sha",
            format!("{short_sha:?} is not an abbreviated commit id (4 to 64 hexadecimal digits)"),
        ));
    }
    let sha = match root.opt_str("commit_url")?.and_then(commit_in_url) {
        Some(sha) if !sha.starts_with(short_sha) => {
            return Err(root.error(
                "commit_url",
                format!("names commit {sha}, which short_sha {short_sha} does not abbreviate"),
            ));
        }
        found => found,
    };
    Ok(Hook::Deployment(Deployment {
        project: project(root)?,
        deployment_id: root.u64("deployment_id")?,
        deployable_id: root.opt_u64("deployable_id")?,
        status: status(
            root,
            "status",
            &DeploymentStatus::ALL,
            DeploymentStatus::as_str,
            "deployment",
        )?,
        status_changed_at: root.time("status_changed_at")?,
        environment: root.str("environment")?.to_string(),
        environment_tier: root.opt_str("environment_tier")?.map(str::to_string),
        environment_external_url: root
            .opt_str("environment_external_url")?
            .filter(|u| !u.is_empty())
            .map(str::to_string),
        short_sha: short_sha.to_ascii_lowercase(),
        sha,
        commit_title: root.opt_str("commit_title")?.map(str::to_string),
    }))
}

/// The full commit id a GitLab commit URL ends in (`…/-/commit/<sha>`), if it has one.
fn commit_in_url(url: &str) -> Option<Sha> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let (_, tail) = path.rsplit_once("/commit/")?;
    Sha::parse(tail.trim_end_matches('/')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_urls_give_full_ids() {
        let full = "279484c09fbe69ededfced8c1bb6e6d24616b468";
        for url in [
            format!("http://h/root/p/-/commit/{full}"),
            format!("http://h/root/p/commit/{full}?view=parallel"),
            format!("http://h/root/p/-/commit/{full}/#note_1"),
        ] {
            assert_eq!(commit_in_url(&url).unwrap().as_str(), full, "{url}");
        }
        assert_eq!(commit_in_url("http://h/root/p/-/commit/279484c0"), None);
        assert_eq!(commit_in_url("http://h/root/p/-/commits/main"), None);
    }
}
