//! `executor play`: one match through the gRPC API, against an embedded executor or a running one.

use std::fmt::Write as _;

use proto::pb;
use proto::pb::executor_client::ExecutorClient;
use tokio::net::TcpListener;

use crate::config::PlayArgs;
use crate::error::{Error, Result};

/// Plays the match and returns the executor's response.
pub async fn play(mut args: PlayArgs) -> Result<pb::MatchResponse> {
    let code_urls = match args.addr {
        Some(_) => args.agents.clone(),
        None => allow_local_agents(&mut args).await?,
    };
    let match_id = args
        .match_id
        .clone()
        .unwrap_or_else(|| format!("local-{}", hex::encode(rand::random::<[u8; 4]>())));
    let request = pb::MatchRequest {
        match_id,
        environment: args.environment.clone(),
        agents: args
            .agents
            .iter()
            .zip(code_urls)
            .enumerate()
            .map(|(i, (source, code_url))| pb::AgentData {
                agent_id: agent_id(i, source),
                code_url,
                ..Default::default()
            })
            .collect(),
        timeout_sec: args.timeout_sec,
        record_replay: true,
        seed: args.seed,
        environment_config_json: args.env_config.clone().unwrap_or_default(),
        limits: None,
    };
    if let Some(addr) = &args.addr {
        return call(addr.clone(), request).await;
    }
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(Error::io("binding 127.0.0.1 for the embedded executor"))?;
    let addr = listener
        .local_addr()
        .map_err(Error::io("reading the embedded executor's address"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listeners = crate::server::Listeners {
        grpc: listener,
        http: None,
        drain_grace: std::time::Duration::from_secs(5),
        connections: crate::config::ConnectionArgs::DEFAULT,
    };
    let server = tokio::spawn(crate::server::run(
        listeners,
        args.executor.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let response = call(format!("http://{addr}"), request).await;
    let _ = stop.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(Error::Internal(format!("embedded executor: {e}"))),
    }
    response
}

/// The embedded executor allows the local agents it is given: each is sent as its real path, and the directory
/// holding it becomes one of the executor's local code roots. Returns the code URLs to send.
async fn allow_local_agents(args: &mut PlayArgs) -> Result<Vec<String>> {
    let mut code_urls = Vec::new();
    for source in &args.agents {
        let path = match source.split_once("://") {
            Some(("file", path)) => path,
            Some(_) => {
                code_urls.push(source.clone());
                continue;
            }
            None => source.as_str(),
        };
        let real = tokio::fs::canonicalize(path).await.map_err(|e| {
            Error::InvalidArgument(format!(
                "agent {source:?} cannot be read ({e}); give an agent directory, archive or file"
            ))
        })?;
        if let Some(dir) = real.parent() {
            let dir = dir.display().to_string();
            let roots = &mut args.executor.agent_sources.local_code_roots;
            if !roots.contains(&dir) {
                roots.push(dir);
            }
        }
        code_urls.push(real.display().to_string());
    }
    Ok(code_urls)
}

async fn call(addr: String, request: pb::MatchRequest) -> Result<pb::MatchResponse> {
    let mut client = ExecutorClient::connect(addr.clone())
        .await
        .map_err(|e| Error::Internal(format!("connecting to {addr}: {e}")))?;
    client
        .run_match(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| {
            Error::Internal(format!(
                "RunMatch failed: {:?}: {}",
                status.code(),
                status.message()
            ))
        })
}

/// A readable id from the agent's path: its last component, with the seat number to keep ids unique.
fn agent_id(index: usize, source: &str) -> String {
    let name = source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("agent");
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    format!(
        "{}-{}",
        index + 1,
        if name.is_empty() { "agent" } else { &name }
    )
}

/// A human summary of a match response.
pub fn summary(r: &pb::MatchResponse) -> String {
    let status = pb::MatchStatus::try_from(r.status).map_or("unknown", |s| s.as_str_name());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "match {}: {status} after {} steps in {:.2} s (seed {})",
        r.match_id, r.total_steps, r.execution_time_sec, r.seed
    );
    let winner = if r.winner_agent_id.is_empty() {
        "none (draw)"
    } else {
        &r.winner_agent_id
    };
    let _ = writeln!(out, "winner: {winner}");
    for a in &r.agent_results {
        let agent_status =
            pb::AgentStatus::try_from(a.status).map_or("unknown", |s| s.as_str_name());
        let _ = write!(
            out,
            "  {}: score {} errors {} {agent_status}",
            a.agent_id, a.score, a.errors
        );
        if !a.error_message.is_empty() {
            let _ = write!(out, " ({})", a.error_message);
        }
        out.push('\n');
    }
    if !r.error_message.is_empty() {
        let _ = writeln!(out, "error: {}", r.error_message);
    }
    if !r.replay_url.is_empty() {
        let _ = writeln!(
            out,
            "replay: {}\nviewer: {}",
            r.replay_url, r.replay_html_url
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn agent_ids_come_from_paths() {
        assert_eq!(
            super::agent_id(0, "examples/agents/pong-python/"),
            "1-pong-python"
        );
        assert_eq!(
            super::agent_id(1, "file:///tmp/my agent.zip"),
            "2-myagent.zip"
        );
        assert_eq!(super::agent_id(1, "///"), "2-agent");
    }
}
