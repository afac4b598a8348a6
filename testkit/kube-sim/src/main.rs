//! `kube-sim`: runs the Kubernetes API simulator until SIGTERM or SIGINT, prints its URL as the
//! first line on stdout and writes a kubeconfig when asked.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Dev-only Kubernetes API simulator: Pods, Secrets, ConfigMaps, Events and Jobs over plain HTTP,
/// with a Job controller and a kubelet that runs containers as local processes.
#[derive(Debug, Parser)]
#[command(name = "kube-sim", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "KUBE_SIM_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Image to binary mapping, PATTERN=BINARY; PATTERN is registry/repo without tag or a glob
    /// with `*`. Repeat the flag, or separate entries with commas in the env variable.
    #[arg(long = "image", env = "KUBE_SIM_IMAGES", value_delimiter = ',')]
    images: Vec<String>,
    /// Directory for pod volumes, logs and termination messages (a temporary one by default).
    #[arg(long, env = "KUBE_SIM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Real seconds per simulated second for TTLs, deadlines, grace periods and back-off.
    #[arg(long, env = "KUBE_SIM_TIME_SCALE", default_value_t = 1.0)]
    time_scale: f64,
    /// Write a kubeconfig pointing at the simulator to this file.
    #[arg(long, env = "KUBE_SIM_KUBECONFIG_OUT")]
    kubeconfig_out: Option<PathBuf>,
    /// Default namespace of the kubeconfig context.
    #[arg(long, env = "KUBE_SIM_NAMESPACE", default_value = "default")]
    namespace: String,
    /// Name of the simulated node.
    #[arg(long, env = "KUBE_SIM_NODE_NAME", default_value = "kube-sim-node")]
    node_name: String,
    /// Watch events kept for resuming watches; older versions answer 410 Gone.
    #[arg(long, env = "KUBE_SIM_HISTORY", default_value_t = 10_000)]
    history: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::telemetry::init(common::telemetry::Format::Text {
        compact: false,
        plain: false,
    })
    .map_err(anyhow::Error::from_boxed)
    .context("starting logging")?;
    let args = Args::parse();
    let mut config = kube_sim::Config {
        listen: args.listen,
        data_dir: args.data_dir,
        time_scale: args.time_scale,
        node_name: args.node_name,
        history_limit: args.history,
        namespace: args.namespace.clone(),
        ..kube_sim::Config::default()
    };
    for entry in &args.images {
        let (pattern, binary) = entry
            .split_once('=')
            .with_context(|| format!("--image {entry:?}: expected PATTERN=BINARY"))?;
        config = config.image(pattern.trim(), binary.trim());
    }
    let sim = kube_sim::Sim::start(config).await?;
    if let Some(path) = &args.kubeconfig_out {
        std::fs::write(path, sim.kubeconfig_yaml(&args.namespace))
            .with_context(|| format!("cannot write kubeconfig {}", path.display()))?;
    }
    println!("{}", sim.url());
    common::signal::shutdown().await;
    tracing::info!("kube-sim stopping");
    sim.shutdown().await;
    Ok(())
}
