//! Setting a match up before any agent starts: the environment, the isolation layers the spec and the
//! options name, and each agent's launch and prepared sandbox. What fails here refuses the whole match,
//! except an agent that cannot run: it is charged and left out.

use std::path::Path;

use envs::Environment;
use proto::spec::{AgentSpec, MatchSpec};

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
        let Some((launch, sandbox)) = prepare_seat(
            spec,
            options,
            turn_based,
            scratch_root,
            seat,
            agent,
            reporter,
        )?
        else {
            prepared.push(None);
            continue;
        };
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

/// Resolves how one agent starts and prepares its sandbox; `None` for an agent that cannot run (charged).
fn prepare_seat(
    spec: &MatchSpec,
    options: &PlayOptions,
    turn_based: bool,
    scratch_root: &Path,
    seat: &mut Seat,
    agent: &AgentSpec,
    reporter: &Reporter,
) -> Result<Option<(Launch, Prepared)>, String> {
    let mut launch = match launch::resolve(&agent.dir, &options.python) {
        Ok(launch) => launch,
        Err(message) => {
            seat.cannot_run(&message, reporter);
            return Ok(None);
        }
    };
    let shared = spec
        .agents
        .iter()
        .filter(|other| same_dir(&other.dir, &launch.dir))
        .count()
        > 1;
    let scratch = scratch_root.join(format!("agent-{}", seat.player + 1));
    if launch.is_manifest() {
        let resolved = sandbox::resolve_program(
            &options.sandbox,
            &agent_box(&launch, &scratch, !shared, spec, turn_based),
            &launch.program,
        );
        match resolved {
            Ok(program) => launch.program = program.into_os_string(),
            Err(message) => {
                seat.cannot_run(&message, reporter);
                return Ok(None);
            }
        }
    }
    let agent = agent_box(&launch, &scratch, !shared, spec, turn_based);
    let sandbox = sandbox::prepare(&options.sandbox, &agent)
        .map_err(|e| format!("preparing the sandbox of agent {}: {e}", seat.agent_id))?;
    Ok(Some((launch, sandbox)))
}

/// What the sandbox of an agent started as `launch` needs to know.
fn agent_box<'a>(
    launch: &'a Launch,
    scratch: &Path,
    own_dir: bool,
    spec: &'a MatchSpec,
    turn_based: bool,
) -> AgentBox<'a> {
    AgentBox {
        dir: &launch.dir,
        scratch: scratch.to_path_buf(),
        runtime: &launch.runtime,
        interpreter: (!launch.is_manifest()).then(|| Path::new(&launch.program)),
        own_dir,
        limits: &spec.limits,
        turn_based,
    }
}

/// Whether two agent directories are the same directory.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
