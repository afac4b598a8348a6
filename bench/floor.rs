//! The floor of the orchestrator overhead benchmark: a plain pipe ping-pong between processes.
//!
//! Built by `bench/run` with `rustc -O` (std only). `floor --agents N --steps S --reps R [--agent-cpu C]`
//! starts N copies of itself as children (through `taskset -c C` when `--agent-cpu` is given) and plays S
//! steps: each step writes one step-sized JSON line to every child, then reads one answer line from each, all
//! with blocking pipe I/O. The child side answers every line at once with `{"action":1}`. Prints one JSON
//! line per repetition: `{"agents":N,"steps":S,"ns_per_step":..}`.
//!
//! `floor --spawn-file F --reps R` measures process spawns instead: F lists stages separated by lines `--`,
//! one command per line (arguments separated by tabs). Each stage starts its commands together and waits for
//! all of them; prints one JSON line per repetition: `{"spawn_ns":..}`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

fn child() {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if out.write_all(b"{\"action\":1}\n").is_err() || out.flush().is_err() {
            return;
        }
    }
}

fn spawns(file: &str, reps: usize) {
    let text = std::fs::read_to_string(file).expect("spawn file");
    let stages: Vec<Vec<Vec<&str>>> = text
        .split("\n--\n")
        .map(|stage| {
            stage
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.split('\t').collect())
                .collect()
        })
        .collect();
    for _ in 0..reps {
        let started = Instant::now();
        for stage in &stages {
            let children: Vec<Child> = stage
                .iter()
                .map(|argv| {
                    Command::new(argv[0])
                        .args(&argv[1..])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("spawn")
                })
                .collect();
            for mut c in children {
                let _ = c.wait();
            }
        }
        println!("{{\"spawn_ns\":{}}}", started.elapsed().as_nanos());
    }
}

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--child") {
        return child();
    }
    if let Some(file) = args
        .iter()
        .position(|a| a == "--spawn-file")
        .and_then(|i| args.get(i + 1))
    {
        return spawns(file, flag(&args, "--reps", 5));
    }
    let agents = flag(&args, "--agents", 2);
    let steps = flag(&args, "--steps", 20_000);
    let reps = flag(&args, "--reps", 5);
    let agent_cpu = args
        .iter()
        .position(|a| a == "--agent-cpu")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let me = std::env::current_exe().expect("own path");
    for _ in 0..reps {
        let mut children: Vec<Child> = (0..agents)
            .map(|_| {
                let mut command = match &agent_cpu {
                    Some(cpu) => {
                        let mut c = Command::new("taskset");
                        c.arg("-c").arg(cpu).arg(&me);
                        c
                    }
                    None => Command::new(&me),
                };
                command
                    .arg("--child")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("spawn child")
            })
            .collect();
        let mut pipes: Vec<_> = children
            .iter_mut()
            .map(|c| {
                (
                    c.stdin.take().expect("stdin"),
                    BufReader::new(c.stdout.take().expect("stdout")),
                )
            })
            .collect();
        let mut answer = Vec::new();
        let mut run = |n: usize| {
            for step in 0..n {
                // The size of a pong step message as the orchestrator writes it.
                let message = format!(
                    "{{\"type\":\"step\",\"step\":{step},\"observation\":[0.5123456,0.4987654,0.0098765,\
                     -0.0043210,0.45,0.55,3.0,2.0],\"bank_ms\":10000}}\n"
                );
                for (input, _) in pipes.iter_mut() {
                    input.write_all(message.as_bytes()).expect("write");
                }
                for (_, output) in pipes.iter_mut() {
                    answer.clear();
                    output.read_until(b'\n', &mut answer).expect("read");
                }
            }
        };
        run(steps / 10);
        let started = Instant::now();
        run(steps);
        let ns = started.elapsed().as_nanos() as f64 / steps as f64;
        println!("{{\"agents\":{agents},\"steps\":{steps},\"ns_per_step\":{ns:.1}}}");
        drop(pipes);
        for mut c in children {
            let _ = c.wait();
        }
    }
}
