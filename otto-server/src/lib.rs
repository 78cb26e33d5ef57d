//! # otto-server: the `otto-server` binary's library
//!
//! The only crate that knows every concrete adapter: it loads [`config`], wires
//! adapters to ports in [`startup`], serves [`http`], and sets up [`telemetry`].

pub mod cli;
pub mod config;
pub mod http;
pub mod live;
pub mod operator;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod worker;
