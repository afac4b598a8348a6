//! Configuration precedence: flags over environment over file over defaults, and bad files refused.

use super::*;

fn serve(cli: Cli) -> ServeArgs {
    match cli.command {
        Command::Serve(args) | Command::Config(ConfigCommand::Print(args)) => args,
        Command::Play(_) | Command::RenderJob(_) => panic!("expected serve"),
    }
}

#[test]
fn file_values_become_defaults_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("executor.toml");
    std::fs::write(
        &file,
        "max-concurrent-matches = 7\nmax_queued_matches = 3\nagent-step-ms = 300\nreplay-gzip = true\nlisten = \"127.0.0.1:6000\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let args = serve(parse_from(["executor", "--config", path, "serve"]).unwrap());
    assert_eq!(args.executor.max_concurrent_matches, 7);
    assert_eq!(args.executor.max_queued_matches, 3);
    assert_eq!(args.executor.agent_limits.agent_step_ms, 300);
    assert!(args.executor.replay_gzip);
    assert_eq!(args.listen.to_string(), "127.0.0.1:6000");

    let args = serve(
        parse_from([
            "executor",
            "serve",
            "--config",
            path,
            "--max-concurrent-matches",
            "2",
        ])
        .unwrap(),
    );
    assert_eq!(
        args.executor.max_concurrent_matches, 2,
        "a flag beats the file"
    );
    assert_eq!(args.executor.max_queued_matches, 3);

    let args = serve(parse_from(["executor", "config", "print", "--config", path]).unwrap());
    assert_eq!(args.executor.max_concurrent_matches, 7);
}

#[test]
fn bad_config_files_are_refused_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "unknown.toml",
            "max-matches = 3\n",
            "unknown key \"max-matches\"",
        ),
        (
            "table.toml",
            "listen = [1, 2]\n",
            "is not a string, number or boolean",
        ),
        ("syntax.toml", "listen = \n", "config file"),
        ("value.toml", "max-concurrent-matches = \"many\"\n", "many"),
    ];
    for (name, text, want) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let err =
            parse_from(["executor", "serve", "--config", file.to_str().unwrap()]).unwrap_err();
        assert!(err.to_string().contains(want), "{name}: {err}");
    }
    let err = parse_from([
        "executor",
        "serve",
        "--config",
        "/nonexistent/executor.toml",
    ])
    .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/executor.toml"),
        "{err}"
    );
}

#[test]
fn checks_catch_inconsistent_limits() {
    let mut args = serve(parse_from(["executor", "serve"]).unwrap());
    assert!(args.executor.check().is_ok());
    args.executor.agent_limits.agent_step_ms = 20_000;
    assert!(matches!(
        args.executor.check(),
        Err(Error::InvalidConfig(_))
    ));
    assert_eq!(
        args.http_addr().unwrap().unwrap().to_string(),
        "0.0.0.0:8080"
    );
    args.http_listen = "off".into();
    assert_eq!(args.http_addr().unwrap(), None);
}

#[test]
fn agent_sources_are_comma_separated_lists_where_empty_means_none() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("executor.toml");
    std::fs::write(
        &file,
        "local-code-roots = [\"/srv/a\", \"/srv/b,/srv/c\"]\nagent-source-allow-hosts = \"\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let args = serve(parse_from(["executor", "serve", "--config", path]).unwrap());
    let sources = &args.executor.agent_sources;
    assert_eq!(
        sources.roots(),
        [
            PathBuf::from("/srv/a"),
            PathBuf::from("/srv/b"),
            PathBuf::from("/srv/c")
        ]
    );
    assert!(sources.allow_hosts().is_empty());
    let args = serve(
        parse_from([
            "executor",
            "serve",
            "--local-code-roots=",
            "--agent-source-allow-hosts",
            "artifacts.internal, 10.8.0.0/16",
            "--agent-source-allow-hosts",
            "127.0.0.2,",
        ])
        .unwrap(),
    );
    let sources = &args.executor.agent_sources;
    assert!(sources.roots().is_empty(), "an empty value means none");
    assert_eq!(
        sources.allow_hosts(),
        ["artifacts.internal", "10.8.0.0/16", "127.0.0.2"]
    );
    // What `config print` writes reads back the same.
    let printed = toml::to_string(&args).unwrap();
    let reprinted = dir.path().join("printed.toml");
    std::fs::write(&reprinted, &printed).unwrap();
    let again =
        serve(parse_from(["executor", "serve", "--config", reprinted.to_str().unwrap()]).unwrap());
    assert_eq!(
        again.executor.agent_sources.allow_hosts(),
        sources.allow_hosts()
    );
    assert!(again.executor.agent_sources.roots().is_empty());
}
