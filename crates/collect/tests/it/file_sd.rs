//! `file_sd` files: globbing, refresh on change, a broken file keeping its targets, and the
//! runner following the files.

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::header;
use axum::routing::get;
use headroom_collect::scrape::{
    FileSd, FileSdError, Health, HttpScraper, ScrapeJob, ScrapeRunner, ScrapedSeries,
};

/// Writes `text` and moves the mtime forward, so a change is seen even on a coarse-clock FS.
fn write(path: &Path, text: &str, age: u64) {
    fs::write(path, text).unwrap();
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(age))
        .unwrap();
}

fn targets(sd: &FileSd) -> Vec<String> {
    let mut t: Vec<String> = sd.groups().flat_map(|g| g.targets.clone()).collect();
    t.sort();
    t
}

#[test]
fn globs_refreshes_and_keeps_a_broken_files_targets() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    write(
        &a,
        r#"[{"targets": ["a:1"], "labels": {"env": "prod"}}]"#,
        0,
    );
    write(&b, r#"[{"targets": ["b:1", "b:2"]}]"#, 0);
    write(&dir.path().join("c.txt"), r#"[{"targets": ["c:1"]}]"#, 0);
    let mut sd = FileSd::new(vec![dir.path().join("*.json")]).unwrap();
    let r = sd.refresh(false);
    assert!(r.changed && r.errors.is_empty());
    assert_eq!(targets(&sd), vec!["a:1", "b:1", "b:2"]);
    let a_group = sd.groups().find(|g| g.targets == ["a:1"]).unwrap();
    assert_eq!(a_group.labels, vec![("env".into(), "prod".into())]);
    assert_eq!(a_group.source, format!("{}:0", a.display()));

    // Nothing changed: nothing to do.
    let r = sd.refresh(false);
    assert!(!r.changed && r.errors.is_empty());

    // A changed mtime re-reads the file.
    write(&a, r#"[{"targets": ["a:1", "a:2"]}]"#, 10);
    assert!(sd.refresh(false).changed);
    assert_eq!(targets(&sd), vec!["a:1", "a:2", "b:1", "b:2"]);

    // A new file matching the glob is picked up.
    let d = dir.path().join("d.json");
    write(&d, r#"[{"targets": ["d:1"]}]"#, 0);
    assert!(sd.refresh(false).changed);
    assert!(targets(&sd).contains(&"d:1".to_string()));

    // A broken file keeps what it gave last, and the error says where.
    write(
        &b,
        "[\n  {\"targets\": [\"b:9\"],\n   \"labels\": {\"env\": 3}}\n]",
        20,
    );
    let r = sd.refresh(false);
    assert!(!r.changed);
    assert_eq!(r.errors.len(), 1);
    let FileSdError::Syntax {
        file,
        line,
        column,
        message,
    } = &r.errors[0]
    else {
        panic!("{}", r.errors[0])
    };
    assert_eq!((file, *line, *column), (&b, 3, 22), "{}", r.errors[0]);
    assert!(message.contains("invalid type: integer"), "{message}");
    assert!(targets(&sd).contains(&"b:2".to_string()));
    // Not re-read (nor logged again) until it changes or the refresh interval forces it.
    assert!(sd.refresh(false).errors.is_empty());
    assert_eq!(sd.refresh(true).errors.len(), 1);

    // A deleted file takes its targets along.
    fs::remove_file(&d).unwrap();
    assert!(sd.refresh(false).changed);
    assert_eq!(targets(&sd), vec!["a:1", "a:2", "b:1", "b:2"]);

    // The forced re-read sees a change that kept mtime and length.
    let before = fs::metadata(&a).unwrap().modified().unwrap();
    fs::write(&a, r#"[{"targets": ["a:1", "a:3"]}]"#).unwrap();
    fs::File::options()
        .write(true)
        .open(&a)
        .unwrap()
        .set_modified(before)
        .unwrap();
    assert!(!sd.refresh(false).changed);
    assert!(sd.refresh(true).changed);
    assert!(targets(&sd).contains(&"a:3".to_string()));
}

#[test]
fn a_missing_file_or_empty_glob_is_no_targets_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut sd = FileSd::new(vec![
        dir.path().join("none.json"),
        dir.path().join("nothing/*.json"),
    ])
    .unwrap();
    let r = sd.refresh(true);
    assert!(!r.changed && r.errors.is_empty());
    assert_eq!(sd.groups().count(), 0);
    assert!(FileSd::new(vec![dir.path().join("*/x.json")]).is_err());
}

#[tokio::test]
async fn the_runner_follows_the_files() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/metrics",
        get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "m 1\n") }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.json");
    write(&file, "[]", 0);
    let mut job = ScrapeJob::new("sd");
    job.interval = Duration::from_millis(200);
    job.timeout = Duration::from_millis(200);
    job.file_sd = vec![dir.path().join("*.json")];
    let got: Arc<Mutex<Vec<ScrapedSeries>>> = Arc::default();
    let g = got.clone();
    let runner = ScrapeRunner::start(
        job,
        Arc::new(HttpScraper::new().unwrap()),
        Arc::new(move |s| g.lock().unwrap().extend(s)),
    )
    .unwrap();
    assert!(runner.targets().is_empty());

    let wait = async |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(6);
        while !ok() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    write(
        &file,
        &format!(r#"[{{"targets": ["{addr}"], "labels": {{"team": "a"}}}}]"#),
        10,
    );
    wait("target scraped", &|| {
        runner
            .targets()
            .first()
            .is_some_and(|t| t.health == Health::Up)
    })
    .await;
    let first = got.lock().unwrap()[0].labels.clone();
    assert!(
        first.contains(&("team".to_string(), "a".to_string())),
        "{first:?}"
    );
    assert!(first.contains(&("job".to_string(), "sd".to_string())));

    // Broken: the target stays.
    write(&file, "[{\"targets\": ", 20);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(runner.targets().len(), 1);

    // Emptied: the target goes.
    write(&file, "[]", 30);
    wait("target removed", &|| runner.targets().is_empty()).await;
    let n = got.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(got.lock().unwrap().len(), n, "a removed target was scraped");
    runner.stop().await;
}
