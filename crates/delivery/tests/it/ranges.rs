//! What a deploy shipped: walks over the commit graph (linear, merges, a branch older than the
//! last deploy, clocks that disagree, missing ancestors, the walk limit), listed changes, a
//! monorepo service's paths, and rollbacks.

use headroom_delivery::{
    Commit, CommitGraph, CommitRange, DeliveryError, DeliveryHistory, DeployId, DeployStatus,
    DoraConfig, Repository, Service, Shipped,
};

use crate::common::{at, commit, deploy, sha};

fn graph(commits: Vec<Commit>) -> CommitGraph {
    let mut g = CommitGraph::new();
    for c in commits {
        g.learn(c).unwrap();
    }
    g
}

fn shas(tags: &[&str]) -> Vec<headroom_delivery::CommitSha> {
    tags.iter().map(|t| sha(t)).collect()
}

fn range(g: &CommitGraph, tip: &str, shipped: &[&str]) -> CommitRange {
    g.range(&sha(tip), &shas(shipped), 1000)
}

#[test]
fn a_linear_history_ships_the_commits_since_the_last_deploy() {
    let g = graph(vec![
        commit("c1", &[], at("2026-01-05T09:00")),
        commit("c2", &["c1"], at("2026-01-05T10:00")),
        commit("c3", &["c2"], at("2026-01-05T11:00")),
        commit("c4", &["c3"], at("2026-01-05T12:00")),
        commit("c5", &["c4"], at("2026-01-05T13:00")),
    ]);
    assert_eq!(
        range(&g, "c5", &["c2"]),
        CommitRange::Commits(shas(&["c5", "c4", "c3"]))
    );
    assert_eq!(range(&g, "c2", &["c2"]), CommitRange::Commits(vec![]));
    // Going back (a rollback to c2 from c5) ships nothing new.
    assert_eq!(range(&g, "c2", &["c5"]), CommitRange::Commits(vec![]));
    assert_eq!(g.len(), 5);
}

#[test]
fn a_merge_ships_its_branch_even_when_the_branch_is_older_than_the_last_deploy() {
    // m1 ─ m2 (deployed) ─ m3 ─ M
    //   └─ b1 ─ b2 ────────────┘   b1 and b2 were committed before m2 was deployed.
    let g = graph(vec![
        commit("m1", &[], at("2026-01-05T09:00")),
        commit("b1", &["m1"], at("2026-01-05T09:30")),
        commit("b2", &["b1"], at("2026-01-05T09:45")),
        commit("m2", &["m1"], at("2026-01-05T10:00")),
        commit("m3", &["m2"], at("2026-01-05T11:00")),
        commit("M", &["m3", "b2"], at("2026-01-05T12:00")),
    ]);
    assert_eq!(
        range(&g, "M", &["m2"]),
        CommitRange::Commits(shas(&["M", "m3", "b2", "b1"]))
    );
    // Had the branch's commits been deployed (b2), only main's side remains.
    assert_eq!(
        range(&g, "M", &["b2", "m2"]),
        CommitRange::Commits(shas(&["M", "m3"]))
    );
}

#[test]
fn a_merge_of_main_into_a_branch_does_not_ship_main_again() {
    // m1 ─ m2 (deployed) ─ m3 ─────── M
    //   └─ b1 ─ bm (merges m2 in) ─ b2 ┘
    let g = graph(vec![
        commit("m1", &[], at("2026-01-05T09:00")),
        commit("b1", &["m1"], at("2026-01-05T09:10")),
        commit("m2", &["m1"], at("2026-01-05T10:00")),
        commit("bm", &["b1", "m2"], at("2026-01-05T10:30")),
        commit("b2", &["bm"], at("2026-01-05T10:40")),
        commit("m3", &["m2"], at("2026-01-05T11:00")),
        commit("M", &["m3", "b2"], at("2026-01-05T12:00")),
    ]);
    assert_eq!(
        range(&g, "M", &["m2"]),
        CommitRange::Commits(shas(&["M", "m3", "b2", "bm", "b1"]))
    );
}

#[test]
fn a_commit_reached_first_through_a_skewed_clock_is_taken_back() {
    // x is the parent of both the deployed p and the new n, but p's clock was wrong: p claims
    // to be older than x, so the walk takes x (and w below it) before p's line reaches them.
    let g = graph(vec![
        commit("w", &[], at("2026-01-05T08:00")),
        commit("x", &["w"], at("2026-01-05T10:00")),
        commit("p", &["x"], at("2026-01-05T06:00")),
        commit("n", &["x"], at("2026-01-05T12:00")),
    ]);
    assert_eq!(range(&g, "n", &["p"]), CommitRange::Commits(shas(&["n"])));
}

#[test]
fn a_missing_ancestor_ends_the_walk() {
    // c1 was never learnt: c2's line stops there, and so does the range.
    let g = graph(vec![
        commit("c2", &["c1"], at("2026-01-05T10:00")),
        commit("c3", &["c2"], at("2026-01-05T11:00")),
    ]);
    assert_eq!(g.len(), 2);
    assert!(!g.knows(&sha("c1")));
    assert_eq!(
        range(&g, "c3", &["c0"]),
        CommitRange::Commits(shas(&["c3", "c2"]))
    );
    assert_eq!(range(&g, "c1", &[]), CommitRange::UnknownTip);
    assert_eq!(range(&g, "nowhere", &[]), CommitRange::UnknownTip);
}

#[test]
fn a_walk_past_its_limit_is_unknown_not_cut_short() {
    let mut commits = vec![commit("c0", &[], at("2026-01-05T00:00"))];
    for i in 1..50 {
        commits.push(commit(
            &format!("c{i}"),
            &[&format!("c{}", i - 1)],
            at("2026-01-05T00:00") + headroom_core::Span::minutes(i),
        ));
    }
    let g = graph(commits);
    assert_eq!(
        g.range(&sha("c49"), &shas(&["c0"]), 10),
        CommitRange::TooLong { limit: 10 }
    );
    match g.range(&sha("c49"), &shas(&["c0"]), 100) {
        CommitRange::Commits(c) => assert_eq!(c.len(), 49),
        other => panic!("{other:?}"),
    }
}

#[test]
fn learning_refuses_a_commit_that_contradicts_the_graph_and_changes_nothing() {
    let mut g = graph(vec![
        commit("c1", &[], at("2026-01-05T09:00")),
        commit("c2", &["c1"], at("2026-01-05T10:00")),
    ]);
    let err = g
        .learn(commit("c2", &["c0"], at("2026-01-05T10:00")))
        .unwrap_err();
    assert!(matches!(err, DeliveryError::ConflictingParents { .. }));
    assert!(err.to_string().contains(sha("c2").as_str()), "{err}");
    let err = g
        .learn(commit("c3", &["c3"], at("2026-01-05T10:00")))
        .unwrap_err();
    assert_eq!(
        err,
        DeliveryError::SelfParent {
            sha: sha("c3").to_string(),
            index: 0
        }
    );
    assert_eq!(g.len(), 2);
    assert!(!g.knows(&sha("c3")));
    assert!(!g.knows(&sha("c0")));
    // The same commit again is fine, and fills in its files.
    g.learn(commit("c2", &["c1"], at("2026-01-05T10:00")))
        .unwrap();
    assert_eq!(g.len(), 2);

    let bad = serde_json::from_str::<Commit>(r#"{"sha": "abc123", "authored": 0, "committed": 0}"#)
        .unwrap_err();
    assert!(
        bad.to_string().contains("\"abc123\": wrong length"),
        "{bad}"
    );
}

fn with_files(tag: &str, parents: &[&str], minute: i64, files: &[&str]) -> Commit {
    Commit {
        files: Some(files.iter().map(|f| f.to_string()).collect()),
        ..commit(
            tag,
            parents,
            at("2026-01-05T09:00") + headroom_core::Span::minutes(minute),
        )
    }
}

#[test]
fn a_monorepo_service_ships_only_commits_touching_its_directories() {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    for (name, path) in [("cart", "services/cart"), ("web", "web/")] {
        h.record_service(Service {
            name: name.to_string(),
            team: None,
            repositories: vec![Repository {
                name: "octo-org/platform".to_string(),
                path: Some(path.to_string()),
            }],
        })
        .unwrap();
    }
    for c in [
        with_files("r0", &[], 0, &["README.md"]),
        with_files("r1", &["r0"], 1, &["services/cart/main.go"]),
        with_files("r2", &["r1"], 2, &["web/index.html"]),
        with_files("r3", &["r2"], 3, &["services/cartography/x.go"]),
        // Files unknown: counted, not knowing better.
        commit("r4", &["r3"], at("2026-01-05T09:04")),
        with_files("r5", &["r4"], 5, &["web/app.js", "services/cart/api.go"]),
        with_files("r6", &["r5"], 6, &["docs/cart.md"]),
    ] {
        h.learn_commit(c).unwrap();
    }
    for (id, service) in [("c0", "cart"), ("w0", "web")] {
        h.record_deploy(deploy(
            id,
            service,
            "production",
            "r0",
            at("2026-01-05T09:00"),
            DeployStatus::Success,
        ))
        .unwrap();
    }
    for (id, service) in [("c1", "cart"), ("w1", "web")] {
        h.record_deploy(deploy(
            id,
            service,
            "production",
            "r6",
            at("2026-01-05T10:00"),
            DeployStatus::Success,
        ))
        .unwrap();
    }
    assert_eq!(
        h.shipped(&DeployId::new("c1")),
        Some(Shipped::Range(shas(&["r5", "r4", "r1"])))
    );
    assert_eq!(
        h.shipped(&DeployId::new("w1")),
        Some(Shipped::Range(shas(&["r5", "r4", "r2"])))
    );
    assert_eq!(h.shipped(&DeployId::new("c0")), Some(Shipped::FirstDeploy));
    assert_eq!(h.shipped(&DeployId::new("nope")), None);

    let outside = Service {
        name: "ops".to_string(),
        team: None,
        repositories: vec![Repository {
            name: "octo-org/platform".to_string(),
            path: Some("web/../..".to_string()),
        }],
    };
    assert_eq!(
        h.record_service(outside).unwrap_err().to_string(),
        "service \"ops\": repository 0: the path leaves the repository (`..`)"
    );
}

#[test]
fn listed_changes_win_over_the_walk() {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    for c in [
        commit("c1", &[], at("2026-01-05T09:00")),
        commit("c2", &["c1"], at("2026-01-05T10:00")),
        commit("c3", &["c2"], at("2026-01-05T11:00")),
    ] {
        h.learn_commit(c).unwrap();
    }
    h.record_deploy(deploy(
        "d1",
        "cart",
        "production",
        "c1",
        at("2026-01-05T09:30"),
        DeployStatus::Success,
    ))
    .unwrap();
    let mut d2 = deploy(
        "d2",
        "cart",
        "production",
        "c3",
        at("2026-01-05T11:30"),
        DeployStatus::Success,
    );
    d2.changes = Some(shas(&["c3"]));
    h.record_deploy(d2).unwrap();
    assert_eq!(
        h.shipped(&DeployId::new("d2")),
        Some(Shipped::Listed(shas(&["c3"])))
    );
}

#[test]
fn changes_a_rollback_took_out_count_once_when_they_return() {
    // d1 ships a; d2 ships b1, b2; d3 rolls back to a; d4 ships c on top of b2: b1 and b2
    // already reached production with d2, so d4 ships only c.
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    for c in [
        commit("a", &[], at("2026-01-05T09:00")),
        commit("b1", &["a"], at("2026-01-05T10:00")),
        commit("b2", &["b1"], at("2026-01-05T10:10")),
        commit("c", &["b2"], at("2026-01-05T13:00")),
    ] {
        h.learn_commit(c).unwrap();
    }
    let prod = |id, tag, time| {
        deploy(
            id,
            "cart",
            "production",
            tag,
            at(time),
            DeployStatus::Success,
        )
    };
    h.record_deploy(prod("d1", "a", "2026-01-05T09:30"))
        .unwrap();
    h.record_deploy(prod("d2", "b2", "2026-01-05T11:00"))
        .unwrap();
    let mut d3 = prod("d3", "a", "2026-01-05T12:00");
    d3.labels = vec!["Rollback".to_string()];
    h.record_deploy(d3).unwrap();
    h.record_deploy(prod("d4", "c", "2026-01-05T14:00"))
        .unwrap();
    // A failed and a cancelled deploy in between are never "the previous deploy".
    h.record_deploy(deploy(
        "f",
        "cart",
        "production",
        "b1",
        at("2026-01-05T13:30"),
        DeployStatus::Failure,
    ))
    .unwrap();
    h.record_deploy(deploy(
        "x",
        "cart",
        "production",
        "b1",
        at("2026-01-05T13:40"),
        DeployStatus::Cancelled,
    ))
    .unwrap();

    assert_eq!(
        h.shipped(&DeployId::new("d2")),
        Some(Shipped::Range(shas(&["b2", "b1"])))
    );
    assert_eq!(
        h.shipped(&DeployId::new("d3")),
        Some(Shipped::Range(vec![]))
    );
    assert_eq!(
        h.shipped(&DeployId::new("d4")),
        Some(Shipped::Range(shas(&["c"])))
    );
    // Another environment keeps its own order: staging's first deploy has nothing before it.
    h.record_deploy(deploy(
        "s1",
        "cart",
        "staging",
        "c",
        at("2026-01-05T13:50"),
        DeployStatus::Success,
    ))
    .unwrap();
    assert_eq!(h.shipped(&DeployId::new("s1")), Some(Shipped::FirstDeploy));
    // A deploy of a sha never learnt says so.
    h.record_deploy(deploy(
        "d5",
        "cart",
        "production",
        "zz",
        at("2026-01-05T15:00"),
        DeployStatus::Success,
    ))
    .unwrap();
    assert_eq!(
        h.shipped(&DeployId::new("d5")),
        Some(Shipped::UnknownCommit)
    );
}
