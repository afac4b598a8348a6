//! `kube-sim`: a dev-only Kubernetes API simulator for tests of code that drives Jobs and Pods.
//!
//! It serves namespaced `v1` Pods, Secrets, ConfigMaps and Events and `batch/v1` Jobs over plain
//! HTTP on 127.0.0.1, with the API server's semantics that clients depend on (resource versions,
//! watches that resume or expire, conflicts, validation, garbage collection), a Job controller,
//! and a kubelet that runs containers as local processes from an image-to-binary map.
//!
//! Parts, each using only parts listed before it:
//! - `kinds`, `time`, `error` ([`Error`], [`ApiError`]), `object`, `patch`, `selector`,
//!   `validate`, `defaults`, `kubeconfig`: the resource kinds, accessors of stored objects,
//!   checks and defaults of writes, and helpers;
//! - `images`: the image map ([`ImageMapping`]) and how its patterns name images;
//! - `config`: [`Config`];
//! - `store`: objects, the global resource version, watch history and write semantics;
//! - `faults`: fault switches ([`ErrorInjection`], [`TransientError`], an exhausted quota) and request
//!   counts ([`RequestCount`]);
//! - `processes`: process groups of running containers;
//! - `shared`: the state the API, the controllers and the kubelet share;
//! - `events`: core/v1 Events recorded by the controllers and the kubelet;
//! - `controller`: the Job controller, TTL-after-finished and the garbage collector;
//! - `kubelet`: pods as process groups, volumes, env, path rewriting, container statuses;
//! - `http`: the Kubernetes REST API and the `/_sim/...` admin endpoints;
//! - `sim`: the in-process handle [`Sim`] (URL, kubeconfig, faults, counts);
//! - `child`: the simulator as a child process ([`SimProcess`]) with a tiny admin client.

mod child;
mod config;
mod controller;
mod defaults;
mod error;
mod events;
mod faults;
mod http;
mod images;
mod kinds;
mod kubeconfig;
mod kubelet;
mod object;
mod patch;
mod processes;
mod selector;
mod shared;
mod sim;
mod store;
mod time;
mod validate;

pub use child::SimProcess;
pub use config::Config;
pub use error::{ApiError, Error, Result};
pub use faults::{ErrorInjection, RequestCount, TransientError};
pub use images::ImageMapping;
pub use sim::Sim;
