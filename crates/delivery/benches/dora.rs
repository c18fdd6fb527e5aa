//! DORA over a year of 100,000 deploys and 1,000,000 commits.
//!
//! Run: `cargo bench -p headroom-delivery --bench dora`
//!
//! 50 services (10 teams of 5), each with its own repository of 20,000 commits: pull requests
//! of four commits branched from main and merged by a merge commit, a production deploy every
//! second merge (2,000 per service, ten commits each), one failed deploy in 50, one hotfix
//! label in 40, and 40 incidents per service (a third naming their deploy, about a tenth not caused
//! by a change, the rest attributed by the window): a change is a pull request, two a deploy. `report` over the whole year walks every
//! deploy's range, attributes every incident and fills 53 weekly buckets. Building the history
//! (learning the commits, recording deploys, requests and incidents) is timed once and printed.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use headroom_core::{Span, Timestamp};
use headroom_delivery::{
    Commit, CommitSha, DeliveryHistory, Deploy, DeployId, DeployStatus, DoraConfig, DoraFilter,
    Environment, IncidentFacts, PullRequest, Repository, Service, TimeRange, report,
};

const SERVICES: u64 = 50;
const COMMITS_PER_SERVICE: u64 = 20_000;
const PULL_SIZE: u64 = 4;
/// Merges per deploy.
const PULLS_PER_DEPLOY: u64 = 2;
/// 2026-01-05 00:00 UTC.
const T0: i64 = 1_767_571_200_000;
const YEAR: i64 = 365 * 86_400_000;

fn sha(service: u64, n: u64) -> CommitSha {
    CommitSha::parse(&format!("{service:08x}{n:032x}")).unwrap()
}

fn build() -> DeliveryHistory {
    let mut h = DeliveryHistory::new(DoraConfig::default()).unwrap();
    let pulls = COMMITS_PER_SERVICE / (PULL_SIZE + 1);
    let step = YEAR / COMMITS_PER_SERVICE as i64;
    for s in 0..SERVICES {
        let name = format!("svc-{s}");
        h.record_service(Service {
            name: name.clone(),
            team: Some(format!("team-{}", s / 5)),
            repositories: vec![Repository {
                name: format!("org/{name}"),
                path: None,
            }],
        })
        .unwrap();
        let repo = format!("org/{name}");
        // Each service's clock is offset a little, so deploys of different services interleave.
        let mut t = T0 + s as i64 * 61_000;
        let root = sha(s, 0);
        h.learn_commit(Commit {
            sha: root.clone(),
            parents: vec![],
            authored: Timestamp(t - step),
            committed: Timestamp(t - step),
            files: None,
        })
        .unwrap();
        h.record_deploy(deploy(
            &name,
            0,
            root.clone(),
            Timestamp(t),
            DeployStatus::Success,
        ))
        .unwrap();
        let mut main = root;
        let mut n = 1;
        for p in 0..pulls {
            let opened = t;
            let mut parent = main.clone();
            let mut commits = Vec::with_capacity(PULL_SIZE as usize);
            for _ in 0..PULL_SIZE {
                let c = sha(s, n);
                n += 1;
                h.learn_commit(Commit {
                    sha: c.clone(),
                    parents: vec![parent],
                    authored: Timestamp(t - 6 * step),
                    committed: Timestamp(t),
                    files: None,
                })
                .unwrap();
                t += step;
                commits.push(c.clone());
                parent = c;
            }
            let merge = sha(s, n);
            n += 1;
            h.learn_commit(Commit {
                sha: merge.clone(),
                parents: vec![main, parent],
                authored: Timestamp(t),
                committed: Timestamp(t),
                files: None,
            })
            .unwrap();
            h.record_pull_request(PullRequest {
                repository: repo.clone(),
                number: p + 1,
                opened: Timestamp(opened),
                merged: Some(Timestamp(t)),
                merge_sha: Some(merge.clone()),
                commits,
            })
            .unwrap();
            t += step;
            main = merge;
            if (p + 1).is_multiple_of(PULLS_PER_DEPLOY) {
                let k = (p + 1) / PULLS_PER_DEPLOY;
                let finished = Timestamp(t + 600_000);
                if k.is_multiple_of(50) {
                    let mut failed =
                        deploy(&name, k, main.clone(), finished, DeployStatus::Failure);
                    failed.id = DeployId(format!("{name}-failed-{k}"));
                    h.record_deploy(failed).unwrap();
                }
                let mut d = deploy(
                    &name,
                    k,
                    main.clone(),
                    finished + Span::minutes(5),
                    DeployStatus::Success,
                );
                if k.is_multiple_of(40) {
                    d.labels.push("hotfix".to_string());
                }
                h.record_deploy(d).unwrap();
                if k % 50 == 25 {
                    let i = k / 50;
                    h.record_incident(IncidentFacts {
                        id: format!("{name}-inc-{i}"),
                        services: vec![name.clone()],
                        started: finished + Span::hours(1),
                        resolved: Some(finished + Span::hours(1 + (i as i64 % 5))),
                        deploy: i
                            .is_multiple_of(3)
                            .then(|| DeployId(format!("{name}-{}", k - 1))),
                        version: None,
                        not_caused_by_change: i % 10 == 7 && !i.is_multiple_of(3),
                    })
                    .unwrap();
                }
            }
        }
        assert_eq!(n, COMMITS_PER_SERVICE + 1);
    }
    h
}

fn deploy(
    service: &str,
    k: u64,
    sha: CommitSha,
    finished: Timestamp,
    status: DeployStatus,
) -> Deploy {
    Deploy {
        id: DeployId(format!("{service}-{k}")),
        service: service.to_string(),
        environment: Environment::production(),
        version: Some(format!("{k}")),
        sha,
        started: finished - Span::minutes(8),
        finished,
        status,
        labels: Vec::new(),
        changes: None,
    }
}

fn bench(c: &mut Criterion) {
    let started = Instant::now();
    let history = build();
    eprintln!(
        "history: {} commits, {} deploys, {} incidents, built in {:.2?}",
        history.graph().len(),
        history.deploys().len(),
        history.incidents().len(),
        started.elapsed()
    );
    // From after the services' first deploys (which have nothing before them) to past the last.
    let year = TimeRange::new(
        Timestamp(T0 + 3_600_000),
        Timestamp(T0 + YEAR + 30 * 86_400_000),
    )
    .unwrap();
    let all = DoraFilter::default();
    let r = report(&history, year, &all);
    let m = &r.metrics;
    eprintln!(
        "report: {} deploys, {} changes (median {:?} s), {} failed, {} failures (median {:?} s), {} rework, {} unlinked, {} weeks",
        m.deployment_frequency.deployments,
        m.lead_time.changes,
        m.lead_time.median_seconds,
        m.change_failure_rate.failed,
        m.recovery_time.failures,
        m.recovery_time.median_seconds,
        m.rework_rate.rework,
        m.lead_time.unlinked_deployments,
        r.weeks.len()
    );
    assert_eq!(m.deployment_frequency.deployments, 100_000);
    assert_eq!(m.lead_time.changes, 200_000);
    assert_eq!(m.lead_time.unlinked_deployments, 0);

    let mut group = c.benchmark_group("dora");
    group.sample_size(10);
    group.bench_function("report/100k_deploys_1m_commits", |b| {
        b.iter(|| black_box(report(&history, year, &all)))
    });
    let team = DoraFilter {
        team: Some("team-3".to_string()),
        ..DoraFilter::default()
    };
    group.bench_function("report/one_team_of_5_services", |b| {
        b.iter(|| black_box(report(&history, year, &team)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
