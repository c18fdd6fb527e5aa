//! GitHub webhooks in: `X-Hub-Signature-256` verified, and the events that say what changed
//! and what was deployed read into typed facts.
//!
//! `parse(event, body)` takes `X-GitHub-Event` and the raw body. What a delivery says is one of
//! the [`Hook`] facts, or [`Hook::Ignored`] with the reason it carries nothing headroom keeps
//! (a tag push, a PR closed unmerged, a run still going, an event it does not read). Which
//! repository belongs to which service, which workflow deploys it and which label marks an
//! incident are the service's to decide; this module reports what GitHub said.

use headroom_core::Timestamp;
use hmac::Mac;

use crate::alertmanager::FormatError;
use crate::hook::{self, HookError, Node, Sha, SignatureError, first_line};

pub const EVENT_HEADER: &str = "X-GitHub-Event";
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// `X-Hub-Signature-256` for `body`: `sha256=` and the hex HMAC-SHA256 of the raw body.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hook::hmac_sha256(secret);
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `X-Hub-Signature-256` (`header`, `None` when absent) against the raw body. The
/// digests are compared in constant time. The SHA-1 `X-Hub-Signature` is not read.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let malformed = || SignatureError::Malformed {
        header: SIGNATURE_HEADER,
        reason: "expected sha256= and 64 hexadecimal digits".to_string(),
    };
    let value = header
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(SignatureError::Missing {
            header: SIGNATURE_HEADER,
        })?;
    let digest = value.strip_prefix("sha256=").ok_or_else(malformed)?;
    let sent = hex::decode(digest)
        .ok()
        .filter(|d| d.len() == 32)
        .ok_or_else(malformed)?;
    let mut mac = hook::hmac_sha256(secret);
    mac.update(body);
    mac.verify_slice(&sent)
        .map_err(|_| SignatureError::Mismatch {
            header: SIGNATURE_HEADER,
        })
}

/// What one delivery says.
#[derive(Debug, Clone, PartialEq)]
pub enum Hook {
    Push(Push),
    MergedPullRequest(MergedPullRequest),
    Deployment(Deployment),
    DeploymentStatus(DeploymentStatus),
    WorkflowRun(WorkflowRun),
    Issue(IssueEvent),
    /// A delivery read and understood that carries nothing to keep, and why.
    Ignored {
        reason: String,
    },
}

/// Commits pushed to a branch.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// `owner/name`.
    pub repository: String,
    /// `refs/heads/main`.
    pub git_ref: String,
    /// `main`.
    pub branch: String,
    /// `None` when the push created the branch.
    pub before: Option<Sha>,
    pub after: Sha,
    /// `head_commit.id`: the branch's new tip.
    pub head: Sha,
    pub created: bool,
    pub forced: bool,
    /// Oldest first, as GitHub lists them.
    pub commits: Vec<PushedCommit>,
}

/// One commit of a push.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedCommit {
    pub id: Sha,
    /// When the payload lists them; GitHub's push payload does not.
    pub parents: Option<Vec<Sha>>,
    /// The message's first line.
    pub title: String,
    /// `timestamp`: the one time GitHub always gives a pushed commit.
    pub timestamp: Timestamp,
    /// `author.date` and `committer.date`, when the payload carries them.
    pub authored_at: Option<Timestamp>,
    pub committed_at: Option<Timestamp>,
    /// `false` for a commit already pushed to another branch of the repository.
    pub distinct: bool,
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub removed: Vec<String>,
}

/// A pull request merged: by a merge commit, a squash or a rebase. In each case
/// `merge_commit_sha` is the commit the base branch got (the merge commit, the squashed commit,
/// or the last rebased commit); the payload does not say which method was used.
#[derive(Debug, Clone, PartialEq)]
pub struct MergedPullRequest {
    pub repository: String,
    pub number: u64,
    pub title: String,
    /// `created_at`.
    pub opened_at: Timestamp,
    pub merged_at: Timestamp,
    pub merge_commit_sha: Sha,
    pub base_ref: String,
    pub head_ref: String,
    pub head_sha: Sha,
    /// How many commits the pull request had, when given.
    pub commits: Option<u64>,
    pub labels: Vec<String>,
}

/// A deployment as GitHub describes it (the `deployment` object of both deployment events).
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub repository: String,
    pub id: u64,
    pub sha: Sha,
    pub git_ref: String,
    /// `deploy` unless the creator named another task.
    pub task: String,
    pub environment: String,
    /// Absent from older payloads; the service decides what a missing flag means.
    pub production_environment: Option<bool>,
    pub transient_environment: Option<bool>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A deployment's state, as a `deployment_status` sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    Pending,
    Queued,
    InProgress,
    Success,
    Failure,
    Error,
    Inactive,
}

impl DeploymentState {
    pub const ALL: [DeploymentState; 7] = [
        DeploymentState::Pending,
        DeploymentState::Queued,
        DeploymentState::InProgress,
        DeploymentState::Success,
        DeploymentState::Failure,
        DeploymentState::Error,
        DeploymentState::Inactive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Pending => "pending",
            DeploymentState::Queued => "queued",
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Success => "success",
            DeploymentState::Failure => "failure",
            DeploymentState::Error => "error",
            DeploymentState::Inactive => "inactive",
        }
    }
}

/// A deployment's new state.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentStatus {
    pub deployment: Deployment,
    /// The status's own id.
    pub id: u64,
    pub state: DeploymentState,
    /// The status's environment (the deployment's when the status names none).
    pub environment: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How a completed workflow run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunConclusion {
    Success,
    Failure,
    Neutral,
    Cancelled,
    Skipped,
    TimedOut,
    ActionRequired,
    Stale,
    StartupFailure,
}

impl RunConclusion {
    pub const ALL: [RunConclusion; 9] = [
        RunConclusion::Success,
        RunConclusion::Failure,
        RunConclusion::Neutral,
        RunConclusion::Cancelled,
        RunConclusion::Skipped,
        RunConclusion::TimedOut,
        RunConclusion::ActionRequired,
        RunConclusion::Stale,
        RunConclusion::StartupFailure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunConclusion::Success => "success",
            RunConclusion::Failure => "failure",
            RunConclusion::Neutral => "neutral",
            RunConclusion::Cancelled => "cancelled",
            RunConclusion::Skipped => "skipped",
            RunConclusion::TimedOut => "timed_out",
            RunConclusion::ActionRequired => "action_required",
            RunConclusion::Stale => "stale",
            RunConclusion::StartupFailure => "startup_failure",
        }
    }
}

/// A completed GitHub Actions workflow run. Whether its workflow deploys a service is the
/// service's to decide, by `path` or `name`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRun {
    pub repository: String,
    pub id: u64,
    /// The run's name, or its workflow's when the run has none.
    pub name: String,
    /// `.github/workflows/deploy.yml`.
    pub path: String,
    pub head_sha: Sha,
    pub head_branch: Option<String>,
    /// What triggered the run (`push`, `workflow_dispatch`, …).
    pub event: String,
    pub run_number: u64,
    pub run_attempt: u64,
    pub conclusion: RunConclusion,
    /// `run_started_at` (this attempt's start).
    pub started_at: Timestamp,
    /// `updated_at`: for a completed run, when it finished.
    pub updated_at: Timestamp,
}

/// What happened to an issue, of the actions that can make it an incident or end one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueAction {
    Opened,
    Closed,
    Reopened,
    Labeled,
    Unlabeled,
}

/// An issue opened, closed, reopened or relabelled. Which labels mark incidents is the
/// service's to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueEvent {
    pub repository: String,
    pub number: u64,
    pub title: String,
    pub action: IssueAction,
    /// The label added or removed, for `Labeled` and `Unlabeled`.
    pub label: Option<String>,
    /// The issue's labels after the action.
    pub labels: Vec<String>,
    pub created_at: Timestamp,
    pub closed_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

/// Reads one delivery: `event` is `X-GitHub-Event`, `body` the raw body (JSON, or the form
/// encoding GitHub sends when a hook's content type is `application/x-www-form-urlencoded`).
/// A body over [`hook::MAX_HOOK_BYTES`] is refused unread.
pub fn parse(event: &str, body: &[u8]) -> Result<Hook, HookError> {
    let event = event.trim();
    if event.is_empty() {
        return Err(HookError::EventMissing {
            header: EVENT_HEADER,
        });
    }
    let value = hook::json_body(body, event, true)?;
    let root = Node::root(&value);
    let read = match event {
        "push" => push(&root),
        "pull_request" => pull_request(&root),
        "deployment" => deployment_created(&root),
        "deployment_status" => deployment_status(&root),
        "workflow_run" => workflow_run(&root),
        "issues" => issue(&root),
        "ping" => Ok(ignored(
            "ping: GitHub checking that the hook is reachable".to_string(),
        )),
        "check_suite" | "check_run" | "status" => Ok(ignored(format!(
            "{event}: deploys are read from deployment, deployment_status and workflow_run"
        ))),
        other => Ok(ignored(format!(
            "{other}: not an event headroom reads (it reads push, pull_request, deployment, \
             deployment_status, workflow_run and issues)"
        ))),
    };
    read.map_err(|error| HookError::Malformed {
        event: event.to_string(),
        error,
    })
}

fn ignored(reason: String) -> Hook {
    Hook::Ignored { reason }
}

fn repository(root: &Node) -> Result<String, FormatError> {
    Ok(root.object("repository")?.str("full_name")?.to_string())
}

fn push(root: &Node) -> Result<Hook, FormatError> {
    let repository = repository(root)?;
    let git_ref = root.str("ref")?;
    if root.opt_bool("deleted")?.unwrap_or(false) {
        return Ok(ignored(format!(
            "push deletes {git_ref}: nothing was added"
        )));
    }
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        return Ok(ignored(format!(
            "push of tag {tag}: a tag adds no commits to a branch"
        )));
    }
    let Some(branch) = git_ref.strip_prefix("refs/heads/") else {
        return Ok(ignored(format!("push to {git_ref}: not a branch")));
    };
    let Some(head) = root.opt_object("head_commit")? else {
        return Ok(ignored(format!(
            "push to {branch} has no head commit (head_commit is null)"
        )));
    };
    let commits = root
        .items("commits")?
        .iter()
        .map(pushed_commit)
        .collect::<Result<_, _>>()?;
    Ok(Hook::Push(Push {
        repository,
        git_ref: git_ref.to_string(),
        branch: branch.to_string(),
        before: root.nonzero_sha("before")?,
        after: root.sha("after")?,
        head: head.sha("id")?,
        created: root.opt_bool("created")?.unwrap_or(false),
        forced: root.opt_bool("forced")?.unwrap_or(false),
        commits,
    }))
}

fn pushed_commit(c: &Node) -> Result<PushedCommit, FormatError> {
    let parents = if c.has("parents")? {
        Some(
            c.items("parents")?
                .iter()
                .map(Node::as_sha)
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        None
    };
    let person_date = |key: &str| -> Result<Option<Timestamp>, FormatError> {
        match c.opt_object(key)? {
            Some(person) => person.opt_time("date"),
            None => Ok(None),
        }
    };
    Ok(PushedCommit {
        id: c.sha("id")?,
        parents,
        title: first_line(c.str("message")?),
        timestamp: c.time("timestamp")?,
        authored_at: person_date("author")?,
        committed_at: person_date("committer")?,
        distinct: c.opt_bool("distinct")?.unwrap_or(true),
        added: c.strings("added")?,
        modified: c.strings("modified")?,
        removed: c.strings("removed")?,
    })
}

fn labels(node: &Node) -> Result<Vec<String>, FormatError> {
    node.items("labels")?
        .iter()
        .map(|l| l.str("name").map(str::to_string))
        .collect()
}

fn pull_request(root: &Node) -> Result<Hook, FormatError> {
    let action = root.str("action")?;
    let pr = root.object("pull_request")?;
    let number = pr.u64("number")?;
    if action != "closed" {
        return Ok(ignored(format!(
            "pull_request #{number} {action}: only a merge lands a change"
        )));
    }
    let merged = match pr.opt_bool("merged")? {
        Some(m) => m,
        None => pr.opt_str("merged_at")?.is_some(),
    };
    if !merged {
        return Ok(ignored(format!(
            "pull_request #{number} closed without merging"
        )));
    }
    let base = pr.object("base")?;
    let head = pr.object("head")?;
    Ok(Hook::MergedPullRequest(MergedPullRequest {
        repository: repository(root)?,
        number,
        title: pr.opt_str("title")?.unwrap_or_default().to_string(),
        opened_at: pr.time("created_at")?,
        merged_at: pr.time("merged_at")?,
        merge_commit_sha: pr.sha("merge_commit_sha")?,
        base_ref: base.str("ref")?.to_string(),
        head_ref: head.str("ref")?.to_string(),
        head_sha: head.sha("sha")?,
        commits: pr.opt_u64("commits")?,
        labels: labels(&pr)?,
    }))
}

fn deployment(d: &Node, repository: String) -> Result<Deployment, FormatError> {
    Ok(Deployment {
        repository,
        id: d.u64("id")?,
        sha: d.sha("sha")?,
        git_ref: d.str("ref")?.to_string(),
        task: d.opt_str("task")?.unwrap_or("deploy").to_string(),
        environment: d.str("environment")?.to_string(),
        production_environment: d.opt_bool("production_environment")?,
        transient_environment: d.opt_bool("transient_environment")?,
        created_at: d.time("created_at")?,
        updated_at: d.time("updated_at")?,
    })
}

fn deployment_created(root: &Node) -> Result<Hook, FormatError> {
    let d = root.object("deployment")?;
    if let Some(action) = root.opt_str("action")?
        && action != "created"
    {
        return Ok(ignored(format!(
            "deployment {} {action}: only a created deployment is read",
            d.u64("id")?
        )));
    }
    Ok(Hook::Deployment(deployment(&d, repository(root)?)?))
}

fn deployment_status(root: &Node) -> Result<Hook, FormatError> {
    let d = deployment(&root.object("deployment")?, repository(root)?)?;
    let s = root.object("deployment_status")?;
    if let Some(action) = root.opt_str("action")?
        && action != "created"
    {
        return Ok(ignored(format!(
            "deployment_status of deployment {} {action}: only a created status is read",
            d.id
        )));
    }
    let state_text = s.str("state")?;
    let state = DeploymentState::ALL
        .into_iter()
        .find(|st| st.as_str() == state_text)
        .ok_or_else(|| {
            s.error(
                "state",
                format!(
                    "{state_text:?} is not a deployment state (one of {})",
                    DeploymentState::ALL.map(DeploymentState::as_str).join(", ")
                ),
            )
        })?;
    let environment = match s.opt_str("environment")? {
        Some(e) if !e.is_empty() => e.to_string(),
        _ => d.environment.clone(),
    };
    Ok(Hook::DeploymentStatus(DeploymentStatus {
        id: s.u64("id")?,
        state,
        environment,
        created_at: s.time("created_at")?,
        updated_at: s.time("updated_at")?,
        deployment: d,
    }))
}

fn workflow_run(root: &Node) -> Result<Hook, FormatError> {
    let action = root.str("action")?;
    let run = root.object("workflow_run")?;
    let workflow = root.opt_object("workflow")?;
    let name = match run.opt_str("name")?.filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => match &workflow {
            Some(w) => w.opt_str("name")?.unwrap_or_default().to_string(),
            None => String::new(),
        },
    };
    let id = run.u64("id")?;
    if action != "completed" {
        return Ok(ignored(format!(
            "workflow_run {id} ({name}) {action}: only a completed run is read"
        )));
    }
    let conclusion_text = run.str("conclusion")?;
    let conclusion = RunConclusion::ALL
        .into_iter()
        .find(|c| c.as_str() == conclusion_text)
        .ok_or_else(|| {
            run.error(
                "conclusion",
                format!(
                    "{conclusion_text:?} is not a run conclusion (one of {})",
                    RunConclusion::ALL.map(RunConclusion::as_str).join(", ")
                ),
            )
        })?;
    let path = match run.opt_str("path")? {
        Some(p) => p.to_string(),
        None => match &workflow {
            Some(w) => w.str("path")?.to_string(),
            None => return Err(run.error("path", "is required")),
        },
    };
    Ok(Hook::WorkflowRun(WorkflowRun {
        repository: repository(root)?,
        id,
        name,
        path,
        head_sha: run.sha("head_sha")?,
        head_branch: run.opt_str("head_branch")?.map(str::to_string),
        event: run.opt_str("event")?.unwrap_or_default().to_string(),
        run_number: run.opt_u64("run_number")?.unwrap_or(0),
        run_attempt: run.opt_u64("run_attempt")?.unwrap_or(1),
        conclusion,
        started_at: match run.opt_time("run_started_at")? {
            Some(t) => t,
            None => run.time("created_at")?,
        },
        updated_at: run.time("updated_at")?,
    }))
}

fn issue(root: &Node) -> Result<Hook, FormatError> {
    let action_text = root.str("action")?;
    let issue = root.object("issue")?;
    let number = issue.u64("number")?;
    let action = match action_text {
        "opened" => IssueAction::Opened,
        "closed" => IssueAction::Closed,
        "reopened" => IssueAction::Reopened,
        "labeled" => IssueAction::Labeled,
        "unlabeled" => IssueAction::Unlabeled,
        other => {
            return Ok(ignored(format!(
                "issues #{number} {other}: neither opens, closes nor relabels the issue"
            )));
        }
    };
    let label = match action {
        IssueAction::Labeled | IssueAction::Unlabeled => {
            Some(root.object("label")?.str("name")?.to_string())
        }
        _ => None,
    };
    Ok(Hook::Issue(IssueEvent {
        repository: repository(root)?,
        number,
        title: issue.opt_str("title")?.unwrap_or_default().to_string(),
        action,
        label,
        labels: labels(&issue)?,
        created_at: issue.time("created_at")?,
        closed_at: issue.opt_time("closed_at")?,
        updated_at: issue.opt_time("updated_at")?,
    }))
}
