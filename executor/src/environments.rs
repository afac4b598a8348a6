//! `ListEnvironments`: the orchestrator's environment catalog as wire messages.

use proto::pb;

/// Every built-in environment.
pub(crate) fn list() -> pb::ListEnvironmentsResponse {
    let environments = envs::catalog()
        .iter()
        .map(|env| pb::EnvironmentInfo {
            name: env.name.to_string(),
            players: u32::try_from(env.players).unwrap_or(u32::MAX),
            move_style: env.move_style.as_str().to_string(),
            description: env.description.to_string(),
            config_schema_json: envs::config_schema(env.name)
                .map(|schema| schema.to_string())
                .unwrap_or_default(),
            action_description: env.action.to_string(),
            observation_description: env.observation.to_string(),
        })
        .collect();
    pb::ListEnvironmentsResponse { environments }
}
