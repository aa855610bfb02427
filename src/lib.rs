//! isolated-quickjs: isolated-vm's API served by QuickJS-ng.
//!
//! `engine` is the napi-free core (isolate threads, limits, value transfer, the V8 wire format);
//! `binding` exposes it to Node through napi-rs. Nothing napi-specific lives in `engine`, so the
//! core is testable with `cargo test` alone.

pub mod engine;
mod binding;
