//! The engine core: everything that runs QuickJS, with no knowledge of Node-API.

pub mod code_cache;
pub mod errors;
pub mod fast_map;
pub mod host;
pub mod isolate;
pub mod limits;
pub mod realm;
pub mod sandbox;
pub mod spare;
pub mod state;
pub mod transfer;
pub mod v8_wire;
pub mod wait;
pub mod worker;

pub use isolate::Isolate;

#[cfg(test)]
mod tests;
