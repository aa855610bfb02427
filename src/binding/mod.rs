//! The Node-API binding: thin classes over the engine. Argument checking and the JS classes of
//! the public API live in `lib/` (JavaScript); this layer converts values and runs operations
//! in the spelling the caller asked for (`runner`).

mod convert;
mod host;
mod isolate;
mod runner;
mod wire;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, ValueType};

/// Turns a Node-API status into a Result, taking the pending exception's message along.
pub(crate) fn napi_ok(env: sys::napi_env, status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    let _ = env;
    if status == sys::Status::napi_pending_exception {
        // The JS exception stays pending: napi-rs rethrows it as is, or a caller takes it.
        return Err(napi::Error::new(napi::Status::PendingException, ""));
    }
    Err(napi::Error::new(napi::Status::from(status), "Node-API call failed"))
}

/// A JS value passed through as is (conversion happens in `convert`, with the env at hand).
pub struct Raw(pub sys::napi_value);

impl TypeName for Raw {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for Raw {}

impl FromNapiValue for Raw {
    unsafe fn from_napi_value(_env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        Ok(Raw(value))
    }
}

impl ToNapiValue for Raw {
    unsafe fn to_napi_value(_env: sys::napi_env, value: Self) -> napi::Result<sys::napi_value> {
        Ok(value.0)
    }
}

/// Sets up this Node environment: `helpers` are the conversion helpers of `index.js`.
#[napi_derive::napi]
pub fn init(env: napi::Env, helpers: Raw) -> napi::Result<()> {
    host::NodeHost::install(env.raw(), helpers.0)?;
    Ok(())
}
