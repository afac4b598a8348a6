//! `orchestrator` binary.

fn main() {}
