//! The process contract (`proto::process::agent_init`): what the executor's builder produces is what this
//! binary's own parser reads back, value for value, and the binary exits with the contract's codes.

mod support;

use std::ffi::OsString;

use agent_init::cli::Cli;
use clap::Parser;
use proto::process::agent_init::{Access, Exit, Install};
use support::{Scratch, agent_zip};

#[test]
fn the_builders_command_line_parses_into_the_same_values() {
    let minimal = Install {
        source: "https://agents.example/a.zip".into(),
        dest: "/agents/agent-1".into(),
        result_file: None,
        sha256: None,
        access: Access::default(),
    };
    let everything = Install {
        source: "file:///srv/uploads/submissions/a_1733472000.zip".into(),
        dest: "/work/m-1/agents/agent-2".into(),
        result_file: Some("/dev/termination-log".into()),
        sha256: Some(format!("sha256:{}", "ab".repeat(32))),
        access: Access {
            allow_hosts: vec![
                "artifacts.rl-arena.svc.cluster.local".parse().unwrap(),
                "10.8.0.0/16".parse().unwrap(),
                "127.0.0.2".parse().unwrap(),
            ],
            local_roots: vec!["/srv/uploads".into(), "/srv/examples".into()],
        },
    };
    for install in [minimal, everything] {
        let mut argv = vec![OsString::from("agent-init")];
        argv.extend(install.args());
        let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        assert_eq!(cli.source, install.source);
        assert_eq!(cli.dest, install.dest);
        assert_eq!(cli.result_file, install.result_file);
        assert_eq!(cli.sha256, install.sha256);
        let hosts: Vec<_> = cli
            .access
            .allow_hosts
            .iter()
            .flat_map(|list| list.0.clone())
            .collect();
        assert_eq!(hosts, install.access.allow_hosts);
        assert_eq!(cli.access.local_roots(), install.access.local_roots);
    }
}

#[test]
fn the_binary_exits_with_the_contracts_codes() {
    let code = |exit: Exit| i32::from(exit.code());
    let installed = Scratch::new();
    let artifact = installed.artifact("agent.zip", &agent_zip());
    installed
        .install(&artifact, &[])
        .assert_code(code(Exit::Installed));

    support::run(["--dest", "/nonexistent/agent"]).assert_code(code(Exit::Usage));

    let bad = Scratch::new();
    let artifact = bad.artifact("agent.zip", b"not an archive");
    bad.install(&artifact, &[])
        .assert_code(code(Exit::BadArtifact));

    // A local source outside the roots is refused: the agent's fault too.
    let refused = Scratch::new();
    refused
        .install("/etc/hostname", &[])
        .assert_code(code(Exit::BadArtifact));

    let missing = Scratch::new();
    missing
        .install(missing.root().join("artifacts/missing.zip"), &[])
        .assert_code(code(Exit::Unreachable));

    let taken = Scratch::new();
    std::fs::create_dir_all(taken.dest()).unwrap();
    std::fs::write(taken.dest().join("already-here"), b"x").unwrap();
    let artifact = taken.artifact("agent.zip", &agent_zip());
    taken
        .install(&artifact, &[])
        .assert_code(code(Exit::Internal));
}
