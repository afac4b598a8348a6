//! `kube-sim`: a dev-only Kubernetes API simulator for tests of code that drives Jobs and Pods.
//!
//! It serves namespaced `v1` Pods, Secrets, ConfigMaps and Events and `batch/v1` Jobs over plain
//! HTTP on 127.0.0.1, with the API server's semantics that clients depend on (resource versions,
//! watches that resume or expire, conflicts, validation, garbage collection), a Job controller,
//! and a kubelet that runs containers as local processes from an image-to-binary map.
//!
//! Parts:
//! - [`sim`]: [`Config`], the in-process [`Sim`] handle (URL, kubeconfig, faults, counts);
//! - [`child`]: the simulator as a child process ([`SimProcess`]) with a tiny admin client;
//! - `store`: objects, the global resource version, watch history and write semantics;
//! - `http` and `admin`: the Kubernetes REST API and the `/_sim/...` admin endpoints;
//! - `controller`: the Job controller, TTL-after-finished and the garbage collector;
//! - `kubelet`: pods as process groups, volumes, env, path rewriting, container statuses;
//! - [`faults`]: fault switches and request counts; `selector`, `patch`, `validate`: helpers;
//! - [`kubeconfig`]: the kubeconfig text that points a client at the simulator.

pub mod child;
mod controller;
pub mod error;
pub mod faults;
mod http;
mod kinds;
pub mod kubeconfig;
mod kubelet;
mod patch;
mod selector;
pub mod sim;
mod store;
mod time;
mod validate;

pub use child::SimProcess;
pub use error::{ApiError, Error, Result};
pub use faults::{ErrorInjection, RequestCount};
pub use sim::{Config, ImageMapping, Sim};
