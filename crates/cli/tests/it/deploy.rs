//! `headroom deploy record --git-range` in a real git repository: the commits of the range,
//! read with `git log`, are what the server stores for the deploy.

use std::path::Path;
use std::process::{Command, Output};

use headroom_store::{ChangeStore, DeployFilter, DeployStore, Store};

use crate::common::{free_port, start_with_token};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn commit(dir: &Path, file: &str, date: &str) -> String {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, date).unwrap();
    git(dir, &["add", file]);
    let out = Command::new("git")
        .args(["commit", "-q", "-m", &format!("change {file}")])
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(dir, &["rev-parse", "HEAD"])
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_git_range_sends_the_commits_the_deploy_ships() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let base = commit(&repo, "README.md", "2027-01-01T10:00:00Z");
    let a = commit(&repo, "src/cart.rs", "2027-01-02T10:00:00Z");
    let b = commit(&repo, "src/tax/nordics.rs", "2027-01-03T10:00:00Z");

    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "services: [{name: shop, repositories: [acme/shop]}]\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let addr = free_port();
    let (mut child, token) = start_with_token(&data, &config, addr);
    let record = Command::new(env!("CARGO_BIN_EXE_headroom"))
        .args([
            "deploy",
            "record",
            "--service",
            "shop",
            "--commit",
            "HEAD",
            "--label",
            "hotfix",
            "--git-range",
            &format!("{base}..HEAD"),
            "--idempotency-key",
            "run-1",
        ])
        .current_dir(&repo)
        .env("HEADROOM_URL", format!("http://{addr}"))
        .env("HEADROOM_TOKEN", &token)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(record.status.success(), "{}", text(&record));
    assert!(
        text(&record).contains("of shop to production: success (2 commits)"),
        "{}",
        text(&record)
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(data.join("headroom.db").to_str().unwrap())
            .await
            .unwrap();
        let deploys = store
            .list_deploys(&DeployFilter {
                service: None,
                environment: None,
                from: None,
                to: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(deploys.len(), 1);
        let d = &deploys[0].deploy;
        assert_eq!(d.sha, b);
        assert_eq!(d.changes.as_deref(), Some(&[a.clone(), b.clone()][..]));
        assert_eq!(d.labels, ["hotfix"]);
        assert_eq!(d.source, headroom_store::DeploySource::Cli);
        let mut commits = store
            .get_commits("acme/shop", &[a.clone(), b.clone(), base.clone()])
            .await
            .unwrap();
        commits.sort_by_key(|c| c.committed);
        assert_eq!(commits.len(), 2, "the range excludes its start");
        assert_eq!(commits[0].sha, a);
        assert_eq!(commits[0].parents, std::slice::from_ref(&base));
        assert_eq!(
            commits[0].files.as_deref(),
            Some(&["src/cart.rs".to_string()][..])
        );
        assert_eq!(commits[1].parents, std::slice::from_ref(&a));
        assert_eq!(commits[1].committed.to_rfc3339(), "2027-01-03T10:00:00Z");
        assert_eq!(
            commits[1].files.as_deref(),
            Some(&["src/tax/nordics.rs".to_string()][..])
        );
        store.close().await;
    });
}
