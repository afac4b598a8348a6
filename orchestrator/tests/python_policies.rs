//! The Python adapter runs every supported module shape: `Agent().get_action` (the random example),
//! module-level `act` returning a numpy-like scalar, and `print()` in agent code does not disturb the protocol.

mod support;

use proto::outcome::{AgentStatus, MatchStatus};
use proto::replay::MoveStatus;
use support::{Arena, example, test_agent};

#[test]
fn class_and_act_agents_play_cleanly() {
    let run = Arena::pong()
        .agent("random", &example("random-python"))
        .agent("act", &test_agent("act-module"))
        .run(&[]);

    assert_eq!(run.outcome.status, MatchStatus::Success);
    assert_eq!(run.outcome.total_steps, 40);
    for agent in &run.outcome.agents {
        assert_eq!(agent.status, AgentStatus::Ok, "{agent:?}");
        assert_eq!(agent.errors, 0, "{agent:?}");
    }
    let act = run.agent("act");
    assert!(
        act.stderr_tail
            .contains("act-module: thinking about 8 numbers"),
        "{act:?}"
    );

    let replay = run.replay();
    assert!(
        replay
            .frames
            .iter()
            .all(|s| s.statuses == [MoveStatus::Ok, MoveStatus::Ok])
    );
    let random_actions: std::collections::BTreeSet<String> = replay
        .frames
        .iter()
        .map(|s| s.actions[0].to_string())
        .collect();
    assert!(
        random_actions.len() > 1,
        "the random agent varies its moves: {random_actions:?}"
    );
    assert!(
        replay
            .frames
            .iter()
            .all(|s| s.actions[1] == 0 || s.actions[1] == 2)
    );
    run.assert_no_agent_process_left();
}
