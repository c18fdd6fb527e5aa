//! A service's delivery keys (team, repositories, environments, deploy workflows) and the
//! CI/CD webhooks' credentials, with located refusals.

use headroom_spec::{PRODUCTION, Repository, load_paths, load_str};

fn problems(text: &str) -> Vec<String> {
    match load_str("d.yaml", text) {
        Ok(_) => panic!("should be refused"),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_service_names_its_repositories_environments_and_workflows() {
    let c = load_str(
        "d.yaml",
        "services:\n  - name: checkout\n    team: shop\n    repositories:\n      - octo-org/shop\n      - {name: group/sub/project, path: services/checkout/}\n    environments: [staging, live]\n    production: live\n    deploy_workflows: [deploy.yml, Deploy to production]\n",
    )
    .unwrap();
    let s = &c.services[0];
    assert_eq!(s.team.as_deref(), Some("shop"));
    assert_eq!(
        s.repositories,
        vec![
            Repository {
                name: "octo-org/shop".into(),
                path: None
            },
            Repository {
                name: "group/sub/project".into(),
                path: Some("services/checkout".into())
            },
        ]
    );
    assert_eq!(s.environments, ["staging", "live"]);
    assert_eq!(s.production, "live");
    assert_eq!(s.deploy_workflows, ["deploy.yml", "Deploy to production"]);
    // The trailing `/` is gone, so a sibling directory with the same prefix is not covered.
    let mono = &s.repositories[1];
    assert!(mono.covers("services/checkout/main.go"));
    assert!(mono.covers("services/checkout"));
    assert!(!mono.covers("services/checkout-v2/main.go"));
    assert!(!mono.covers("README.md"));
    assert!(s.repositories[0].is("Octo-Org/Shop"));
    assert!(!s.repositories[0].is("octo-org/shop2"));
}

#[test]
fn production_is_the_default_environment() {
    let c = load_str(
        "d.yaml",
        "services: [{name: api}]\nslos:\n  - {name: x, service: other, objective: 99, sli: {events: {}}}\n",
    )
    .unwrap();
    for s in &c.services {
        assert_eq!(s.environments, [PRODUCTION], "{}", s.name);
        assert_eq!(s.production, PRODUCTION);
        assert!(s.repositories.is_empty());
    }
    assert_eq!(c.services.len(), 2, "the SLO's service is implied");
    assert_eq!(c.hooks, Default::default());
}

#[test]
fn bad_delivery_values_are_located() {
    let e = problems(
        "services:\n  - name: a\n    repositories: [shop, 'o/../x', {name: o/r, path: /abs}, o/r, o/r]\n    environments: [staging, 'prod uction', staging]\n  - name: b\n    environments: [live]\n  - name: c\n    production: live\n  - name: d\n    environments: []\n    deploy_workflows: ['']\n",
    );
    assert_eq!(
        e,
        [
            "d.yaml:3:20: repository \"shop\" is not owner/name (GitHub) or group/project (GitLab, subgroups allowed)",
            "d.yaml:3:26: repository \"o/../x\" is not owner/name (GitHub) or group/project (GitLab, subgroups allowed)",
            "d.yaml:3:54: path \"/abs\" is not a subdirectory of the repository: give it relative, like services/checkout",
            "d.yaml:3:66: repository \"o/r\" is listed twice",
            "d.yaml:4:29: environment \"prod uction\" is not a valid name: use letters, digits, '-', '_', '.' and '/', at most 255",
            "d.yaml:4:44: environment \"staging\" is listed twice",
            "d.yaml:4:19: environments has none named production: name the production one with `production: <name>`",
            "d.yaml:6:19: environments has none named production: name the production one with `production: <name>`",
            "d.yaml:8:17: production environment \"live\" is not one of environments [\"production\"]",
            "d.yaml:10:19: environments is empty: leave it out for [production]",
            "d.yaml:11:24: deploy workflow is empty",
        ]
    );
}

#[test]
fn hook_secrets_are_read_from_files_and_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("gh"), "github-hook-secret-1\n").unwrap();
    std::fs::write(dir.path().join("gl"), "gitlab-hook-token-2\n").unwrap();
    // The Standard Webhooks reference key.
    std::fs::write(
        dir.path().join("sign"),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
    )
    .unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(
        &path,
        "hooks:\n  github: {secret_file: gh}\n  gitlab: {token_file: gl, signing_key_file: sign}\n",
    )
    .unwrap();
    let c = load_paths(&[path]).unwrap();
    assert_eq!(
        c.hooks.github.as_ref().unwrap().secret,
        "github-hook-secret-1"
    );
    let gl = c.hooks.gitlab.as_ref().unwrap();
    assert_eq!(gl.token, "gitlab-hook-token-2");
    assert!(gl.signing_key.is_some());
    let shown = format!("{c:?}");
    for s in [
        "github-hook-secret-1",
        "gitlab-hook-token-2",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    ] {
        assert!(!shown.contains(s), "{s} in {shown}");
    }

    let inline = load_str(
        "i.yaml",
        "hooks: {github: {secret: s3cret-inline}, gitlab: {token: t0ken-inline}}\n",
    )
    .unwrap();
    assert_eq!(inline.hooks.github.unwrap().secret, "s3cret-inline");
    let gl = inline.hooks.gitlab.unwrap();
    assert_eq!(gl.token, "t0ken-inline");
    assert_eq!(gl.signing_key, None);
    let redacted = headroom_spec::redacted_config(
        "hooks: {github: {secret: s3cret-inline}, gitlab: {token: t0ken-inline, signing_key: whsec_abc}}\n",
    );
    assert!(!redacted.contains("s3cret-inline"), "{redacted}");
    assert!(!redacted.contains("t0ken-inline"), "{redacted}");
    assert!(!redacted.contains("whsec_abc"), "{redacted}");
}

#[test]
fn bad_hook_credentials_are_located_without_their_values() {
    let e = problems(
        "hooks:\n  github: {secret: a, secret_file: f}\n  gitlab: {signing_key: 'not base64 !!'}\n",
    );
    assert_eq!(
        e,
        [
            "d.yaml:2:36: give secret or secret_file, not both",
            "d.yaml:3:11: hooks.gitlab needs token or token_file",
            "d.yaml:3:25: signing token is not whsec_ followed by a base64 key (as GitLab shows it)",
        ]
    );
    assert!(!e.concat().contains("not base64 !!"));
    let twice = problems("hooks: {github: {secret: a}}\n---\nhooks: {github: {secret: b}}\n");
    assert_eq!(twice.len(), 1, "{twice:?}");
    assert!(
        twice[0].starts_with("d.yaml:3:8: hooks is already set at"),
        "{twice:?}"
    );
}

#[test]
fn incident_labels_and_the_attribution_window_default_and_are_located() {
    let defaults = load_str("d.yaml", "hooks: {github: {secret: s}}\n").unwrap();
    assert_eq!(defaults.hooks.github.unwrap().incident_labels, ["incident"]);
    assert_eq!(
        defaults.dora.attribution_window,
        headroom_core::Span::hours(24)
    );

    let set = load_str(
        "d.yaml",
        "hooks: {github: {secret: s, incident_labels: [outage, SEV1]}}\ndora: {attribution_window: 2h}\n",
    )
    .unwrap();
    assert_eq!(
        set.hooks.github.unwrap().incident_labels,
        ["outage", "SEV1"]
    );
    assert_eq!(set.dora.attribution_window, headroom_core::Span::hours(2));
    let none = load_str(
        "d.yaml",
        "hooks: {github: {secret: s, incident_labels: []}}\n",
    )
    .unwrap();
    assert!(none.hooks.github.unwrap().incident_labels.is_empty());

    let e = problems(
        "hooks:\n  github: {secret: s, incident_labels: [a, A, '']}\ndora:\n  attribution_window: 0s\n  window: 1h\n",
    );
    assert_eq!(
        e,
        [
            "d.yaml:2:44: incident label \"A\" is listed twice",
            "d.yaml:2:47: incident label is empty",
            "d.yaml:5:3: unknown field \"window\" in dora; expected one of: attribution_window",
            "d.yaml:4:23: attribution_window: invalid duration \"0s\": must be greater than zero (use Prometheus syntax such as 30s, 5m, 1h30m, 28d, 4w)",
        ]
    );
    let long = problems("dora: {attribution_window: 31d}\n");
    assert_eq!(
        long,
        ["d.yaml:1:28: attribution_window 31d is longer than the most, 30d"]
    );
}
