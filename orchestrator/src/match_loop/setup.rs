//! Setting a match up before any agent starts: the environment, the isolation layers the spec and the
//! options name, and each agent's launch and prepared sandbox. What fails here refuses the whole match,
//! except an agent that cannot run: it is charged and left out.

use std::path::Path;

use envs::Environment;
use proto::spec::MatchSpec;

use super::PlayOptions;
use super::seat::Seat;
use crate::agent::{Launch, launch};
use crate::report::Reporter;
use crate::sandbox::{self, AgentBox, Prepared};

/// How one agent starts and its sandbox; `None` for an agent that cannot run.
pub(super) type Start = Option<(Launch, Prepared)>;

/// Creates the environment and checks the spec's seats and the isolation layers it and the options name.
pub(super) fn environment(
    spec: &MatchSpec,
    options: &PlayOptions,
) -> Result<Box<dyn Environment>, String> {
    let env = envs::make(&spec.environment, &spec.config, spec.seed).map_err(|e| e.to_string())?;
    let players = env.info().players;
    if players != spec.agents.len() {
        return Err(format!(
            "{} is played by {players} agents, the spec has {}; list one agent per player",
            spec.environment,
            spec.agents.len()
        ));
    }
    options.sandbox.check()?;
    sandbox::check_names("required", &spec.limits.required_isolation)?;
    Ok(env)
}

/// Resolves how each agent starts and prepares its sandbox, without starting anything. Agents that cannot
/// run are charged and left out. `Err` refuses the match: a required isolation layer is unavailable, or a
/// sandbox could not be prepared.
pub(super) fn prepare_seats(
    spec: &MatchSpec,
    options: &PlayOptions,
    turn_based: bool,
    scratch_root: &Path,
    seats: &mut [Seat],
    reporter: &Reporter,
) -> Result<Vec<Start>, String> {
    let mut required = spec.limits.required_isolation.clone();
    required.extend(options.sandbox.required.iter().cloned());
    let mut prepared = Vec::new();
    let mut missing = Vec::new();
    for (seat, agent) in seats.iter_mut().zip(&spec.agents) {
        let launch = match launch::resolve(&agent.dir, &options.python) {
            Ok(launch) => launch,
            Err(message) => {
                seat.cannot_run(&message, reporter);
                prepared.push(None);
                continue;
            }
        };
        let agent_box = AgentBox {
            dir: &launch.dir,
            scratch: scratch_root.join(format!("agent-{}", seat.player + 1)),
            program: Path::new(&launch.program),
            limits: &spec.limits,
            turn_based,
        };
        let sandbox = sandbox::prepare(&options.sandbox, &agent_box)
            .map_err(|e| format!("preparing the sandbox of agent {}: {e}", seat.agent_id))?;
        seat.sandboxed(&sandbox);
        for reason in sandbox::missing_required(&required, &sandbox.isolation, turn_based) {
            if !missing.contains(&reason) {
                missing.push(reason);
            }
        }
        prepared.push(Some((launch, sandbox)));
    }
    if !missing.is_empty() {
        return Err(format!(
            "required isolation unavailable on this machine: {}; no agent was started (run on a kernel with \
             these layers or drop them from the required list)",
            missing.join("; ")
        ));
    }
    Ok(prepared)
}
