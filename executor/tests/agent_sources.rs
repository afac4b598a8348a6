//! Where agents may come from: local code only below the operator's `--local-code-roots` (links resolved, a
//! relative `code_url` against the first root, one refusal whatever lies outside), and downloads only from
//! public addresses unless `--agent-source-allow-hosts` names a host, redirects included. `executor play`
//! allows the directories it is given.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use proto::pb;
use support::web::{Reply, WebServer};
use support::{Executor, agent, cancel, example_agent, pong_request, slow_pong, wait_for_step};
use tonic::Code;

/// Files of the operator's that a request must not reach: a root-only secret beside the roots.
struct Canary {
    dir: tempfile::TempDir,
}

impl Canary {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shadow = dir.path().join("shadow");
        std::fs::write(&shadow, "root:$6$canary$secret:19000:0:99999:7:::\n").unwrap();
        // Owned by the user the tests run as (root on CI, like the executor in a plain container), 0600.
        std::fs::set_permissions(&shadow, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self { dir }
    }

    fn shadow(&self) -> String {
        self.dir.path().join("shadow").display().to_string()
    }
}

/// The refusal `RunMatch` gives for agent 1's `code_url`.
async fn refusal(executor: &Executor, code_url: &str) -> String {
    let mut client = executor.client().await;
    let request = pong_request(
        "refused",
        agent("a", &example_agent("pong-python")),
        agent("b", code_url),
    );
    let status = client
        .run_match(request)
        .await
        .expect_err("a local path outside the roots is refused");
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{code_url}: {status:?}"
    );
    status.message().to_string()
}

/// A long match between two slow agents, running once this returns; its work directory.
async fn running_match(executor: &Executor, match_id: &str) -> std::path::PathBuf {
    let mut client = executor.client().await;
    let request = slow_pong(match_id, r#"{"max_steps": 1000, "winning_score": 1000}"#);
    client.submit_match(request).await.expect("submit");
    wait_for_step(&mut client, match_id, 0).await;
    std::fs::read_dir(executor.data_dir.path().join("work"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with(match_id))
        })
        .expect("the running match's work directory")
}

#[tokio::test]
async fn paths_outside_the_roots_are_refused_alike_whether_they_exist_or_not() {
    let executor = Executor::start(&[]);
    let canary = Canary::new();
    let victim = running_match(&executor, "victim").await;
    assert!(victim.join("token").is_file() && victim.join("agents/agent-1").is_dir());
    let uploads = executor.uploads.path();
    std::os::unix::fs::symlink(canary.dir.path(), uploads.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(canary.shadow(), uploads.join("linked-file.py")).unwrap();

    let missing = refusal(
        &executor,
        &canary.dir.path().join("missing.py").display().to_string(),
    )
    .await;
    assert!(
        missing.contains(
            "is refused: local code must lie inside a directory the operator allows with \
             --local-code-roots"
        ),
        "{missing}"
    );
    let data = executor.data_dir.path();
    let outside = [
        canary.shadow(),
        format!("file://{}", canary.shadow()),
        canary.dir.path().display().to_string(),
        data.display().to_string(),
        data.join("work").display().to_string(),
        victim.display().to_string(),
        victim.join("token").display().to_string(),
        victim.join("agents/agent-1").display().to_string(),
        "/proc/self/environ".to_string(),
        "/nonexistent/agent.py".to_string(),
        uploads.join("linked-dir").display().to_string(),
        uploads.join("linked-dir/shadow").display().to_string(),
        uploads.join("linked-file.py").display().to_string(),
        "../../../../../../etc/passwd".to_string(),
        "linked-file.py".to_string(),
        // A root itself is not below a root.
        uploads.display().to_string(),
    ];
    for code_url in outside {
        assert_eq!(
            refusal(&executor, &code_url).await,
            missing,
            "{code_url} is refused like a missing path"
        );
    }
    // Nothing of the canary's reached a log line either.
    assert!(!executor.log.lock().unwrap().contains("canary$secret"));

    cancel(&mut executor.client().await, "victim").await;
    assert_eq!(executor.leftover_processes(), vec![]);
}

#[tokio::test]
async fn relative_code_urls_resolve_against_the_first_root() {
    let executor = Executor::start(&[]);
    let submissions = executor.uploads.path().join("submissions");
    std::fs::create_dir_all(&submissions).unwrap();
    let zip = testkit::zip_dir("", Path::new(&example_agent("pong-python")));
    std::fs::write(
        submissions.join("0b6c1b7e-6f0e-4d52-9a57-3f1c2e9d8a10_1733472000.zip"),
        zip,
    )
    .unwrap();
    std::fs::copy(
        Path::new(&example_agent("random-python")).join("agent.py"),
        submissions.join("5d1e8c2a-1f3b-4a6c-8e7d-2b9f0a4c6e31_1733472060.py"),
    )
    .unwrap();
    let request = pong_request(
        "relative-1",
        agent(
            "zip",
            "submissions/0b6c1b7e-6f0e-4d52-9a57-3f1c2e9d8a10_1733472000.zip",
        ),
        agent(
            "py",
            "submissions/5d1e8c2a-1f3b-4a6c-8e7d-2b9f0a4c6e31_1733472060.py",
        ),
    );
    let response = executor.run_match(request).await;
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusSuccess,
        "{response:?}"
    );
    for result in &response.agent_results {
        assert_eq!(result.status(), pb::AgentStatus::Ok, "{result:?}");
    }
    assert!(response.total_steps > 0);
}

/// A match between a downloaded agent and a local one.
async fn download_match(executor: &Executor, match_id: &str, url: &str) -> pb::MatchResponse {
    let request = pong_request(
        match_id,
        agent("downloaded", url),
        agent("local", &example_agent("random-python")),
    );
    executor.run_match(request).await
}

/// The match failed because the downloaded agent's source was refused, naming `host`.
#[track_caller]
fn assert_refused(response: &pb::MatchResponse, host: &str) {
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusError,
        "{response:?}"
    );
    let downloaded = &response.agent_results[0];
    assert_eq!(
        downloaded.status(),
        pb::AgentStatus::Error,
        "{downloaded:?}"
    );
    assert!(
        downloaded
            .error_message
            .contains(&format!("destination {host} is refused")),
        "{downloaded:?}"
    );
    assert_eq!(response.total_steps, 0);
}

#[tokio::test]
async fn loopback_downloads_are_refused_unless_the_operator_allows_the_host() {
    let zip = testkit::zip_dir("", Path::new(&example_agent("pong-python")));
    let server = WebServer::start("127.0.0.1", Reply::File(zip));
    let url = server.url("agent.zip");

    let executor = Executor::start(&[]);
    let response = download_match(&executor, "loopback-refused", &url).await;
    assert_refused(&response, "127.0.0.1");
    assert_eq!(
        server.hits(),
        0,
        "nothing was sent to a refused destination"
    );

    let allowing = Executor::start(&["--agent-source-allow-hosts", "127.0.0.1"]);
    let response = download_match(&allowing, "loopback-allowed", &url).await;
    assert_eq!(
        response.status(),
        pb::MatchStatus::StatusSuccess,
        "{response:?}"
    );
    assert_eq!(response.agent_results[0].status(), pb::AgentStatus::Ok);
    assert!(server.hits() >= 1);
}

#[tokio::test]
async fn a_redirect_to_the_executors_own_http_port_is_refused() {
    let executor = Executor::start(&["--agent-source-allow-hosts", "127.0.0.2"]);
    let own = format!("{}/metrics", executor.http);
    assert!(own.starts_with("http://127.0.0.1:"), "{own}");
    let redirector = WebServer::start("127.0.0.2", Reply::Redirect(own));
    let response = download_match(&executor, "redirected", &redirector.url("agent.zip")).await;
    assert_refused(&response, "127.0.0.1");
    assert_eq!(redirector.hits(), 1);
    let shown = format!("{response:?}");
    assert!(
        !shown.contains("# HELP") && !shown.contains("# TYPE"),
        "the executor's metrics leaked into the result: {shown}"
    );
    assert_eq!(executor.leftover_processes(), vec![]);
}

#[test]
fn play_allows_the_directories_it_is_given() {
    let agents = tempfile::tempdir().unwrap();
    let mine = agents.path().join("my-agent");
    std::fs::create_dir(&mine).unwrap();
    std::fs::copy(
        Path::new(&example_agent("random-python")).join("agent.py"),
        mine.join("agent.py"),
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_executor"))
        .arg("play")
        .arg(example_agent("pong-python"))
        .arg(&mine)
        .args(["--env-config", r#"{"winning_score": 1, "max_steps": 200}"#])
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .expect("run executor play");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("STATUS_SUCCESS"), "{stdout}");
    assert!(stdout.contains("2-my-agent: score"), "{stdout}");
}
