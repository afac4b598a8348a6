//! Every built-in environment plays through the executor with its starter kits and comes back with a replay
//! link; the isolation layers in force are reported per agent.

mod support;

use proto::pb;
use support::{Executor, agent, example_agent};

#[tokio::test]
async fn every_environment_plays_through_the_executor_with_a_replay() {
    let executor = Executor::start(&[]);
    let client = executor.client().await;
    let mut calls = Vec::new();
    for (env, python, protocol) in [
        ("pong", "pong-python", "pong-shell"),
        ("rps", "rps-python", "rps-shell"),
        ("connectx", "connectx-python", "connectx-shell"),
        ("tictactoe", "tictactoe-python", "tictactoe-shell"),
    ] {
        let mut client = client.clone();
        let request = pb::MatchRequest {
            match_id: format!("env-{env}"),
            environment: env.into(),
            agents: vec![
                agent("python", &example_agent(python)),
                agent("protocol", &example_agent(protocol)),
            ],
            timeout_sec: 300,
            record_replay: true,
            seed: 3,
            environment_config_json: if env == "pong" {
                r#"{"max_steps": 200}"#.into()
            } else {
                String::new()
            },
            limits: Some(pb::MatchLimits {
                step_ms: 2_000,
                ..Default::default()
            }),
        };
        calls.push((
            env,
            tokio::spawn(async move { client.run_match(request).await }),
        ));
    }
    for (env, call) in calls {
        let result = call
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{env}: {e:?}"))
            .into_inner();
        assert_eq!(
            result.status(),
            pb::MatchStatus::StatusSuccess,
            "{env}: {result:?}"
        );
        assert!(result.total_steps > 0, "{env}");
        for a in &result.agent_results {
            assert_eq!(a.status(), pb::AgentStatus::Ok, "{env}: {a:?}");
            assert_eq!(a.errors, 0, "{env}: {a:?}");
            let isolation = a.isolation.as_ref().expect("isolation reported");
            assert!(!isolation.applied.is_empty(), "{env}: {a:?}");
            for layer in ["bounded_io", "process_group", "clean_env"] {
                assert!(
                    isolation.applied.iter().any(|l| l == layer),
                    "{env}: {layer} missing in {isolation:?}"
                );
            }
        }
        let json_path = result
            .replay_url
            .strip_prefix("file://")
            .expect("replay link");
        let replay: proto::replay::Replay =
            serde_json::from_slice(&std::fs::read(json_path).unwrap()).unwrap();
        assert_eq!(replay.environment, env);
        assert_eq!(replay.frames.len() as u32, result.total_steps);
        let html = result
            .replay_html_url
            .strip_prefix("file://")
            .expect("viewer link");
        assert!(std::path::Path::new(html).is_file(), "{env}");
    }
    assert_eq!(executor.leftover_processes(), vec![]);
}
