//! strata: an OCI container runtime. The binary (`main.rs`) parses the
//! command line; everything else lives here, one module per OCI concept.
// `unsafe` lives in `sys` only, behind small safe functions, and every block
// says why it is sound.
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod bundle;
pub mod cgroups;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod container;
pub mod error;
pub mod hooks;
pub mod image;
pub mod logging;
pub mod namespaces;
pub mod process;
pub mod rootfs;
pub mod rootless;
pub mod security;
pub mod spec;
pub mod state;
#[allow(unsafe_code)]
pub mod sys;

/// The runtime-spec version strata implements.
pub const SPEC_VERSION: &str = "1.3.0";
