//! Setting a match up before any agent starts: the environment, the isolation layers the spec and the
//! options name, and each agent's launch and prepared sandbox. What fails here refuses the whole match,
//! except an agent that cannot run: it is charged and left out.

use std::path::Path;

use envs::Environment;
use proto::spec::MatchSpec;

use super::PlayOptions;
use super::seat::Seat;
use crate::agent::{Ready, Seating, Unready};
use crate::report::Reporter;
use crate::sandbox;

/// How one agent starts; `None` for an agent that cannot run.
pub(super) type Start = Option<Ready>;

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

/// Resolves how each agent starts and prepares its sandbox, without starting anything; agents in containers
/// of their own are waited for until `until`. Agents that cannot run are charged and left out. `Err` refuses
/// the match: a required isolation layer is unavailable, or a seat could not be set up.
pub(super) async fn prepare_seats(
    spec: &MatchSpec,
    options: &PlayOptions,
    turn_based: bool,
    scratch_root: &Path,
    seats: &mut [Seat],
    reporter: &Reporter,
    until: tokio::time::Instant,
) -> Result<Vec<Start>, String> {
    let mut required = spec.limits.required_isolation.clone();
    required.extend(options.sandbox.required.iter().cloned());
    let seating = Seating {
        spec,
        python: &options.python,
        sandbox: &options.sandbox,
        turn_based,
        scratch_root,
    };
    let readies = options.hosting.prepare(&seating, until).await?;
    let mut prepared = Vec::new();
    let mut missing = Vec::new();
    for (seat, ready) in seats.iter_mut().zip(readies) {
        let ready = match ready {
            Ok(ready) => ready,
            Err(Unready::CannotRun(message)) => {
                seat.cannot_run(&message, reporter);
                prepared.push(None);
                continue;
            }
            Err(Unready::Refused(message)) => {
                return Err(format!(
                    "preparing the sandbox of agent {}: {message}",
                    seat.agent_id
                ));
            }
        };
        seat.sandboxed(ready.isolation());
        for reason in sandbox::missing_required(&required, ready.isolation(), turn_based) {
            if !missing.contains(&reason) {
                missing.push(reason);
            }
        }
        prepared.push(Some(ready));
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
