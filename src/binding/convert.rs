//! Host values ↔ `Transfer`, on the Node thread. Structured clones use Node's own
//! `v8.serialize` / `v8.deserialize` (through the helpers object of `index.js`), so host-side
//! copies have exactly V8's semantics.

use std::ptr;

use napi::bindgen_prelude::{ClassInstance, FromNapiValue, ToNapiValue};
use napi::sys;

use crate::engine::errors::{ErrorInfo, Thrown};
use crate::engine::host::{CallMode, HostCall, HostFunction, HostResult};
use crate::engine::transfer::Transfer;

use super::host::{current, NodeHost};
use super::napi_ok;
use super::wire::Wire;

/// Calls helper `name` of `index.js` with `args`.
pub fn helper(env: sys::napi_env, name: &std::ffi::CStr, args: &[sys::napi_value]) -> napi::Result<sys::napi_value> {
    let host = current()?;
    let helpers = host.helpers()?;
    let mut function = ptr::null_mut();
    let mut result = ptr::null_mut();
    // SAFETY: plain Node-API calls with live values of this environment.
    unsafe {
        napi_ok(env, sys::napi_get_named_property(env, helpers, name.as_ptr(), &mut function))?;
        napi_ok(env, sys::napi_call_function(env, helpers, function, args.len(), args.as_ptr(), &mut result))?;
    }
    Ok(result)
}

fn type_of(env: sys::napi_env, value: sys::napi_value) -> napi::Result<sys::napi_valuetype> {
    let mut t = 0;
    // SAFETY: `value` is live.
    napi_ok(env, unsafe { sys::napi_typeof(env, value, &mut t) })?;
    Ok(t)
}

fn string(env: sys::napi_env, value: sys::napi_value) -> napi::Result<String> {
    let mut len = 0usize;
    // SAFETY: two-step read of a string's UTF-8 bytes.
    unsafe {
        napi_ok(env, sys::napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len))?;
        let mut buf = vec![0u8; len + 1];
        napi_ok(env, sys::napi_get_value_string_utf8(env, value, buf.as_mut_ptr() as _, len + 1, &mut len))?;
        buf.truncate(len);
        Ok(String::from_utf8(buf).unwrap_or_default())
    }
}

fn primitive(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Option<Transfer>> {
    // SAFETY: reads of primitive values of the type just checked.
    unsafe {
        Ok(Some(match type_of(env, value)? {
            sys::ValueType::napi_undefined => Transfer::Undefined,
            sys::ValueType::napi_null => Transfer::Null,
            sys::ValueType::napi_boolean => {
                let mut b = false;
                napi_ok(env, sys::napi_get_value_bool(env, value, &mut b))?;
                Transfer::Bool(b)
            }
            sys::ValueType::napi_number => {
                let mut n = 0f64;
                napi_ok(env, sys::napi_get_value_double(env, value, &mut n))?;
                Transfer::Number(n)
            }
            sys::ValueType::napi_string => Transfer::String(string(env, value)?),
            sys::ValueType::napi_bigint => {
                let mut sign = 0i32;
                let mut count = 0usize;
                napi_ok(env, sys::napi_get_value_bigint_words(env, value, &mut sign, &mut count, ptr::null_mut()))?;
                let mut words = vec![0u64; count];
                napi_ok(env, sys::napi_get_value_bigint_words(env, value, &mut sign, &mut count, words.as_mut_ptr()))?;
                let magnitude = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                Transfer::BigInt { negative: sign != 0, magnitude }
            }
            _ => return Ok(None),
        }))
    }
}

fn wire(env: sys::napi_env, value: sys::napi_value) -> Option<Transfer> {
    // SAFETY: napi-rs checks the class identity of the wrapped pointer before the cast.
    let instance = unsafe { ClassInstance::<Wire>::from_napi_value(env, value) }.ok()?;
    instance.transfer().ok()
}

/// A host value handed to the API without transfer options: primitives, our wrappers (as
/// `Wire`s), and functions (which become sync Callbacks).
pub fn from_js(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Transfer> {
    if let Some(p) = primitive(env, value)? {
        return Ok(p);
    }
    match type_of(env, value)? {
        sys::ValueType::napi_function => host_function(env, value, CallMode::Sync),
        sys::ValueType::napi_object => match wire(env, value) {
            Some(t) => Ok(t),
            None => Err(napi::Error::new(napi::Status::InvalidArg, "A non-transferable value was passed")),
        },
        _ => Err(napi::Error::new(napi::Status::InvalidArg, "A non-transferable value was passed")),
    }
}

pub fn host_function(env: sys::napi_env, value: sys::napi_value, mode: CallMode) -> napi::Result<Transfer> {
    let _ = env;
    let host = current()?;
    let id = host.keep_function(value)?;
    Ok(Transfer::HostFunction(std::sync::Arc::new(HostFunction { id, host }), mode))
}

/// A structured clone of a host value (markers and primitives pass as themselves).
pub fn from_js_copy(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Transfer> {
    if let Some(p) = primitive(env, value)? {
        return Ok(p);
    }
    if let Some(t) = wire(env, value) {
        return Ok(t);
    }
    let buffer = helper(env, c"serialize", &[value])?;
    let mut data = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY: `buffer` is a Buffer returned by the serializer; its bytes are copied out.
    unsafe {
        napi_ok(env, sys::napi_get_buffer_info(env, buffer, &mut data, &mut len))?;
        Ok(Transfer::Copy(std::slice::from_raw_parts(data as *const u8, len).into()))
    }
}

/// Materialises a transferred value in the host.
pub fn to_js(env: sys::napi_env, value: &Transfer) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: plain Node-API value creation on the Node thread.
    unsafe {
        match value {
            Transfer::Undefined => napi_ok(env, sys::napi_get_undefined(env, &mut out))?,
            Transfer::Null => napi_ok(env, sys::napi_get_null(env, &mut out))?,
            Transfer::Bool(b) => napi_ok(env, sys::napi_get_boolean(env, *b, &mut out))?,
            Transfer::Number(n) => napi_ok(env, sys::napi_create_double(env, *n, &mut out))?,
            Transfer::String(s) => napi_ok(env, sys::napi_create_string_utf8(env, s.as_ptr() as _, s.len() as _, &mut out))?,
            Transfer::BigInt { negative, magnitude } => {
                let mut words: Vec<u64> = magnitude
                    .chunks(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b[..c.len()].copy_from_slice(c);
                        u64::from_le_bytes(b)
                    })
                    .collect();
                if words.is_empty() {
                    words.push(0);
                }
                napi_ok(env, sys::napi_create_bigint_words(env, *negative as i32, words.len(), words.as_ptr(), &mut out))?
            }
            Transfer::Copy(bytes) => {
                // A fresh Buffer each time: Node's deserializer returns views into its input.
                let mut data = ptr::null_mut();
                let mut buffer = ptr::null_mut();
                napi_ok(env, sys::napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr() as _, &mut data, &mut buffer))?;
                out = helper(env, c"deserialize", &[buffer])?;
            }
            Transfer::Reference(_) | Transfer::Function(_) | Transfer::ExternalCopy(_) => {
                let name = match value {
                    Transfer::Reference(_) => c"wrapReference",
                    Transfer::Function(_) => c"wrapFunction",
                    _ => c"wrapExternalCopy",
                };
                let w = Wire::to_napi_value(env, Wire::new(value.clone()))?;
                out = helper(env, name, &[w])?;
            }
            Transfer::Deref(_) => {
                return Err(napi::Error::new(napi::Status::InvalidArg, "Cannot dereference this into target isolate"));
            }
            Transfer::HostFunction(f, _) => out = current()?.function(f.id)?,
        }
    }
    Ok(out)
}

/// The host error (or thrown value) for a `Thrown`. `sync` marks errors of synchronous calls,
/// to which `index.js` appends the boundary marker and the host's stack.
pub fn thrown_to_js(env: sys::napi_env, thrown: &Thrown, from_isolate: bool) -> sys::napi_value {
    let build = || -> napi::Result<sys::napi_value> {
        match thrown {
            Thrown::Error(info) => {
                let name = to_js(env, &Transfer::String(info.name.clone()))?;
                let message = to_js(env, &Transfer::String(info.message.clone()))?;
                let stack = to_js(env, &Transfer::String(info.stack.clone()))?;
                let from_isolate = to_js(env, &Transfer::Bool(from_isolate))?;
                helper(env, c"makeError", &[name, message, stack, from_isolate])
            }
            Thrown::Value(value) => to_js(env, value),
        }
    };
    build().unwrap_or_else(|e| napi_error_value(env, &e))
}

/// A JS Error for a napi-rs error (for paths that cannot throw directly).
pub fn napi_error_value(env: sys::napi_env, error: &napi::Error) -> sys::napi_value {
    let mut message = ptr::null_mut();
    let mut out = ptr::null_mut();
    let text = error.reason.clone();
    // SAFETY: plain value creation.
    unsafe {
        sys::napi_create_string_utf8(env, text.as_ptr() as _, text.len() as _, &mut message);
        sys::napi_create_error(env, ptr::null_mut(), message, &mut out);
    }
    out
}

/// Reads a host exception into a `Thrown`.
pub fn thrown_from_js(env: sys::napi_env, value: sys::napi_value) -> Thrown {
    let describe = || -> napi::Result<Thrown> {
        let description = helper(env, c"describeError", &[value])?;
        if type_of(env, description)? != sys::ValueType::napi_object {
            return Ok(Thrown::Value(from_js_copy(env, value).unwrap_or(Transfer::Undefined)));
        }
        let field = |name: &std::ffi::CStr| -> napi::Result<String> {
            let mut v = ptr::null_mut();
            // SAFETY: reading a property of the plain object `describeError` returned.
            napi_ok(env, unsafe { sys::napi_get_named_property(env, description, name.as_ptr(), &mut v) })?;
            string(env, v)
        };
        Ok(Thrown::Error(ErrorInfo { name: field(c"name")?, message: field(c"message")?, stack: field(c"stack")? }))
    };
    describe().unwrap_or_else(|e| Thrown::plain(e.reason))
}

/// Takes the pending JS exception, if any.
pub fn take_exception(env: sys::napi_env) -> Option<sys::napi_value> {
    let mut pending = false;
    let mut exception = ptr::null_mut();
    // SAFETY: plain Node-API calls.
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if !pending {
            return None;
        }
        sys::napi_get_and_clear_last_exception(env, &mut exception);
    }
    Some(exception)
}

/// Runs a host function for an isolate (on the Node thread): arguments in, result copied out.
pub fn call_host_function(host: &NodeHost, call: HostCall) -> HostResult {
    let env = host.env();
    let run = || -> napi::Result<HostResult> {
        let function = host.function(call.function.id)?;
        let this = to_js(env, &call.this)?;
        let args = call.args.iter().map(|a| to_js(env, a)).collect::<napi::Result<Vec<_>>>()?;
        let mut result = ptr::null_mut();
        // SAFETY: calling a live function with live arguments.
        let status = unsafe { sys::napi_call_function(env, this, function, args.len(), args.as_ptr(), &mut result) };
        if status != sys::Status::napi_ok {
            return Ok(Err(match take_exception(env) {
                Some(e) => thrown_from_js(env, e),
                None => Thrown::plain("host function failed"),
            }));
        }
        Ok(match from_js_copy(env, result) {
            Ok(t) => Ok(t),
            Err(e) => Err(match take_exception(env) {
                Some(ex) => thrown_from_js(env, ex),
                None => Thrown::type_error(e.reason),
            }),
        })
    };
    match run() {
        Ok(result) => result,
        Err(e) => Err(match take_exception(env) {
            Some(ex) => thrown_from_js(env, ex),
            None => Thrown::plain(e.reason),
        }),
    }
}
