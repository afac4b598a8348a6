//! Table tests of request validation: every bad request names its field and the fix.

use proto::pb;

use super::*;
use crate::config::Command;

fn settings() -> ExecutorArgs {
    match crate::config::parse_from(["executor", "serve"])
        .unwrap()
        .command
    {
        Command::Serve(args) => args.executor,
        other => panic!("parsed serve, got {other:?}"),
    }
}

fn agent(id: &str, url: &str) -> pb::AgentData {
    pb::AgentData {
        agent_id: id.into(),
        code_url: url.into(),
        ..Default::default()
    }
}

fn valid_request(dir: &str) -> pb::MatchRequest {
    pb::MatchRequest {
        match_id: "m-1".into(),
        environment: "pong".into(),
        agents: vec![agent("a", dir), agent("b", &format!("file://{dir}"))],
        timeout_sec: 0,
        record_replay: true,
        seed: 0,
        environment_config_json: String::new(),
        limits: None,
    }
}

/// A local code root holding one agent directory, `agent`.
struct Root {
    dir: tempfile::TempDir,
    sources: AgentSources,
}

impl Root {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("agent")).unwrap();
        let sources = AgentSources::only(vec![dir.path().canonicalize().unwrap()]);
        Self { dir, sources }
    }

    fn agent(&self) -> std::path::PathBuf {
        self.dir.path().join("agent")
    }
}

/// Validates a request the way a submission does: the match id, then the rest.
async fn plan(req: &pb::MatchRequest, settings: &ExecutorArgs, root: &Root) -> Result<MatchPlan> {
    Submission::new(req.clone())?
        .plan(settings, &root.sources)
        .await
}

#[tokio::test]
async fn valid_request_becomes_a_plan() {
    let root = Root::new();
    let agent_dir = root.agent();
    let path = agent_dir.to_str().unwrap();
    let first = plan(&valid_request(path), &settings(), &root)
        .await
        .unwrap();
    assert_eq!(first.match_id, "m-1");
    assert_ne!(first.seed, 0, "a seed is picked when none is given");
    assert_eq!(first.timeout, Duration::from_secs(300));
    assert_eq!(first.limits.match_ms, 300_000);
    let canonical = url::Url::from_file_path(agent_dir.canonicalize().unwrap())
        .unwrap()
        .to_string();
    assert_eq!(first.agents[0].source, canonical);
    assert_eq!(first.agents[1].source, canonical);

    let mut req = valid_request(path);
    req.seed = 42;
    req.timeout_sec = 3600;
    req.environment_config_json = r#"{"winning_score": 3}"#.into();
    req.agents[1].code_url = "https://artifacts.example/agent.tar.gz".into();
    req.agents[0].code_url.clear();
    req.agents[0].docker_image = "registry.local:5000/agents/c:1".into();
    req.limits = Some(pb::MatchLimits {
        step_ms: 500,
        max_errors: 3,
        ..Default::default()
    });
    let second = plan(&req, &settings(), &root).await.unwrap();
    assert_eq!(second.seed, 42);
    assert_eq!(second.config["winning_score"], 3);
    assert_eq!(
        second.agents[1].source,
        "https://artifacts.example/agent.tar.gz"
    );
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let root = Root::new();
    let path = root.agent().to_str().unwrap().to_string();
    let missing = root.dir.path().join("nonexistent/agent");
    let missing = missing.to_str().unwrap().to_string();
    let missing_message = format!("agents[0].code_url {missing:?} cannot be read");
    type Edit = Box<dyn Fn(&mut pb::MatchRequest)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "empty match id",
            Box::new(|r| r.match_id.clear()),
            "match_id \"\" is invalid: it must be 1 to 63",
        ),
        (
            "slash in match id",
            Box::new(|r| r.match_id = "a/b".into()),
            "match_id \"a/b\" is invalid",
        ),
        (
            "match id too long",
            Box::new(|r| r.match_id = "a".repeat(64)),
            "is invalid: it must be 1 to 63",
        ),
        (
            "unknown environment",
            Box::new(|r| r.environment = "chess".into()),
            "unknown environment \"chess\"; known environments: pong",
        ),
        (
            "one agent",
            Box::new(|r| {
                r.agents.pop();
            }),
            "agents: pong takes exactly 2 agents, got 1",
        ),
        (
            "three agents",
            Box::new(|r| {
                let a = r.agents[0].clone();
                r.agents.push(pb::AgentData {
                    agent_id: "c".into(),
                    ..a
                });
            }),
            "got 3",
        ),
        (
            "empty agent id",
            Box::new(|r| r.agents[1].agent_id.clear()),
            "agents[1].agent_id is empty",
        ),
        (
            "duplicate agent id",
            Box::new(|r| r.agents[1].agent_id = "a".into()),
            "agents[1].agent_id \"a\" is the same as agents[0].agent_id",
        ),
        (
            "control char in agent id",
            Box::new(|r| r.agents[0].agent_id = "a\nb".into()),
            "agents[0].agent_id is invalid",
        ),
        (
            "bad docker image",
            Box::new(|r| {
                r.agents[0].code_url.clear();
                r.agents[0].docker_image = "a b".into();
            }),
            "agents[0].docker_image \"a b\" is not an image reference",
        ),
        (
            "docker image that never parses",
            Box::new(|r| {
                r.agents[0].code_url.clear();
                r.agents[0].docker_image = "registry.example/UPPER:tag".into();
            }),
            "agents[0].docker_image \"registry.example/UPPER:tag\" is not an image reference (invalid reference \
             format)",
        ),
        (
            "docker image with an empty tag",
            Box::new(|r| {
                r.agents[0].code_url.clear();
                r.agents[0].docker_image = "oci://registry.example/agent:".into();
            }),
            "is not an image reference (invalid reference format)",
        ),
        (
            "both code_url and docker_image",
            Box::new(|r| r.agents[1].docker_image = "registry.example/agent:1".into()),
            "agents[1] has both code_url and docker_image; give exactly one",
        ),
        (
            "no code at all",
            Box::new(|r| r.agents[1].code_url.clear()),
            "agents[1] has neither code_url nor docker_image",
        ),
        (
            "missing path",
            Box::new(move |r| r.agents[0].code_url = missing.clone()),
            &missing_message,
        ),
        (
            "path outside the roots",
            Box::new(|r| r.agents[1].code_url = "/nonexistent/agent".into()),
            "agents[1].code_url is refused: local code must lie inside a directory the operator allows with \
             --local-code-roots",
        ),
        (
            "relative path outside the roots",
            Box::new(|r| r.agents[1].code_url = "../../etc/passwd".into()),
            "agents[1].code_url is refused",
        ),
        (
            "unsupported scheme",
            Box::new(|r| r.agents[0].code_url = "ftp://x/y".into()),
            "scheme \"ftp\" is not supported",
        ),
        (
            "timeout too long",
            Box::new(|r| r.timeout_sec = 3601),
            "timeout_sec 3601 is out of range: give 1 to 3600 seconds",
        ),
        (
            "config not json",
            Box::new(|r| r.environment_config_json = "{".into()),
            "environment_config_json is not valid JSON",
        ),
        (
            "config not object",
            Box::new(|r| r.environment_config_json = "[1]".into()),
            "environment_config_json must be a JSON object",
        ),
        (
            "replay that cannot fit",
            Box::new(|r| {
                r.environment = "rps".into();
                r.environment_config_json = r#"{"episodeSteps": 1000000}"#.into();
            }),
            "record_replay: the replay of up to 999999 steps of rps could take",
        ),
        (
            "replay over the limit names the limit",
            Box::new(|r| {
                r.environment = "rps".into();
                r.environment_config_json = r#"{"episodeSteps": 1000000}"#.into();
            }),
            "over this executor's replay limit of 268435456 bytes (max-replay-bytes)",
        ),
        (
            "unknown config key",
            Box::new(|r| r.environment_config_json = r#"{"colour": 1}"#.into()),
            "environment_config_json: pong config",
        ),
    ];
    for (name, edit, want) in cases {
        let mut req = valid_request(&path);
        edit(&mut req);
        match plan(&req, &settings(), &root).await {
            Err(Error::InvalidArgument(msg)) => assert!(
                msg.contains(want),
                "{name}: {msg:?} does not contain {want:?}"
            ),
            other => panic!("{name}: expected InvalidArgument, got {other:?}"),
        }
    }
}

#[test]
fn fingerprint_tells_requests_apart_but_not_metadata_order() {
    let mut a = pb::MatchRequest {
        match_id: "m".into(),
        environment: "pong".into(),
        agents: vec![pb::AgentData {
            agent_id: "x".into(),
            code_url: "/a".into(),
            metadata: [
                ("k1".to_string(), "v".to_string()),
                ("k2".to_string(), "w".to_string()),
            ]
            .into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let base = fingerprint(&a);
    assert_eq!(base, fingerprint(&a.clone()));
    a.seed = 1;
    assert_ne!(base, fingerprint(&a));
    a.seed = 0;
    a.agents[0].code_url = "/b".into();
    assert_ne!(base, fingerprint(&a));
}

#[tokio::test]
async fn errors_quote_at_most_a_short_piece_of_the_request() {
    let root = Root::new();
    let path = root.agent().to_str().unwrap().to_string();
    type Edit = Box<dyn Fn(&mut pb::MatchRequest)>;
    let huge = |c: char, n: usize| std::iter::repeat_n(c, n).collect::<String>();
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "100 KB match id",
            Box::new(move |r| r.match_id = huge('m', 100_000)),
            "match_id \"mmm",
        ),
        (
            "60 KB code URL",
            // Relative: inside the first local code root, where it cannot be read.
            Box::new(move |r| r.agents[0].code_url = format!("nonexistent/{}", huge('u', 60_000))),
            "agents[0].code_url \"nonexistent/uuu",
        ),
        (
            "60 KB scheme",
            Box::new(move |r| r.agents[0].code_url = format!("{}://x", huge('s', 60_000))),
            "scheme \"sss",
        ),
        (
            "60 KB docker image",
            Box::new(move |r| {
                r.agents[0].code_url.clear();
                r.agents[0].docker_image = huge('i', 60_000);
            }),
            "agents[0].docker_image \"iii",
        ),
        (
            "60 KB environment name",
            Box::new(move |r| r.environment = huge('e', 60_000)),
            "unknown environment \"eee",
        ),
    ];
    for (name, edit, want) in cases {
        let mut req = valid_request(&path);
        edit(&mut req);
        match plan(&req, &settings(), &root).await {
            Err(Error::InvalidArgument(msg)) => {
                assert!(msg.contains(want), "{name}: {msg:?}");
                assert!(msg.len() < 1024, "{name}: {} bytes", msg.len());
                assert!(msg.contains(" bytes)"), "{name}: the length is said: {msg}");
            }
            other => panic!("{name}: expected InvalidArgument, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_replay_limit_refuses_only_matches_that_record_one() {
    let root = Root::new();
    let agent_dir = root.agent();
    let path = agent_dir.to_str().unwrap();
    let mut req = valid_request(path);
    req.environment = "rps".into();
    req.environment_config_json = r#"{"episodeSteps": 1000000}"#.into();
    req.record_replay = false;
    let planned = plan(&req, &settings(), &root)
        .await
        .expect("no replay, no limit");
    assert_eq!(planned.config["episodeSteps"], 1_000_000);

    // A lower limit refuses what the default takes, and the bound grows with the episode.
    req.record_replay = true;
    req.environment_config_json = r#"{"episodeSteps": 2000}"#.into();
    let mut small = settings();
    assert!(plan(&req, &small, &root).await.is_ok());
    small.max_replay_bytes = 100_000;
    let err = plan(&req, &small, &root).await.unwrap_err().to_string();
    assert!(err.contains("replay limit of 100000 bytes"), "{err}");
}
