//! Host values ↔ `Transfer`, on the Node thread. Structured clones use Node's own
//! `v8.serialize` / `v8.deserialize` (through the helpers object of `index.js`), so host-side
//! copies have exactly V8's semantics.

use std::ptr;

use napi::bindgen_prelude::{ClassInstance, FromNapiValue, ToNapiValue};
use napi::sys;

use crate::engine::errors::{ErrorInfo, Thrown};
use crate::engine::host::{CallMode, HostCall, HostOp, HostRef, HostResult};
use crate::engine::transfer::{Mode, SharedBytes, Transfer};

use super::host::{current, NodeHost};
use super::napi_ok;
use super::wire::Wire;

/// Calls helper `name` of `index.js` with `args`.
pub fn helper(env: sys::napi_env, name: &'static std::ffi::CStr, args: &[sys::napi_value]) -> napi::Result<sys::napi_value> {
    let (helpers, function) = current()?.helper(name)?;
    let mut result = ptr::null_mut();
    // SAFETY: a plain Node-API call with live values of this environment.
    napi_ok(env, unsafe { sys::napi_call_function(env, helpers, function, args.len(), args.as_ptr(), &mut result) })?;
    Ok(result)
}

fn type_of(env: sys::napi_env, value: sys::napi_value) -> napi::Result<sys::napi_valuetype> {
    let mut t = 0;
    // SAFETY: `value` is live.
    napi_ok(env, unsafe { sys::napi_typeof(env, value, &mut t) })?;
    Ok(t)
}

/// A host string for an isolate: as UTF-8, unless it holds a lone surrogate (which Node-API's
/// UTF-8 read turns into U+FFFD): then as a structured clone of its UTF-16.
fn host_string(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Transfer> {
    let text = string(env, value)?;
    if !text.contains('\u{FFFD}') {
        return Ok(Transfer::String(text));
    }
    let mut len = 0usize;
    // SAFETY: two-step read of a string's UTF-16 code units.
    let units = unsafe {
        napi_ok(env, sys::napi_get_value_string_utf16(env, value, ptr::null_mut(), 0, &mut len))?;
        let mut units = vec![0u16; len + 1];
        napi_ok(env, sys::napi_get_value_string_utf16(env, value, units.as_mut_ptr(), len + 1, &mut len))?;
        units.truncate(len);
        units
    };
    Ok(match String::from_utf16(&units) {
        Ok(text) => Transfer::String(text),
        Err(_) => Transfer::Copy(SharedBytes::copy(crate::engine::v8_wire::string_clone(&units))),
    })
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
            sys::ValueType::napi_string => host_string(env, value)?,
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

/// The transfer behind a `Wire`, or behind one of the JS objects that hold one (Reference,
/// ExternalCopy, Callback), or the copy a `CopyMarker` carries (lib/transfer.js).
fn wire(env: sys::napi_env, value: sys::napi_value) -> Option<napi::Result<Transfer>> {
    // SAFETY: napi-rs checks the class identity of the wrapped pointer before the cast.
    if let Ok(instance) = unsafe { ClassInstance::<Wire>::from_napi_value(env, value) } {
        return Some(instance.transfer());
    }
    // (A marker used up throws here: its error is the caller's.)
    let held = match helper(env, c"wireOf", &[value]) {
        Ok(held) => held,
        Err(e) => return Some(Err(e)),
    };
    if type_of(env, held).ok()? != sys::ValueType::napi_object {
        return None;
    }
    let mut is_buffer = false;
    // SAFETY: a type check on a live value.
    unsafe { sys::napi_is_buffer(env, held, &mut is_buffer) };
    if is_buffer {
        return Some(buffer_bytes(env, held).map(|bytes| Transfer::Copy(SharedBytes::copy(bytes))));
    }
    // SAFETY: as above.
    let instance = unsafe { ClassInstance::<Wire>::from_napi_value(env, held) }.ok()?;
    Some(instance.transfer())
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
            Some(t) => t,
            None => Err(napi::Error::new(napi::Status::InvalidArg, "A non-transferable value was passed")),
        },
        _ => Err(napi::Error::new(napi::Status::InvalidArg, "A non-transferable value was passed")),
    }
}

/// Keeps a host value for an isolate.
pub fn host_ref(env: sys::napi_env, value: sys::napi_value) -> napi::Result<std::sync::Arc<HostRef>> {
    keep(env, value, String::new(), 0)
}

/// A host function as a plain function in an isolate, with its `name` and `length`.
pub fn host_function(env: sys::napi_env, value: sys::napi_value, mode: CallMode) -> napi::Result<Transfer> {
    let mut name = ptr::null_mut();
    let mut length = ptr::null_mut();
    // SAFETY: property reads on a live function of this environment.
    unsafe {
        napi_ok(env, sys::napi_get_named_property(env, value, c"name".as_ptr(), &mut name))?;
        napi_ok(env, sys::napi_get_named_property(env, value, c"length".as_ptr(), &mut length))?;
    }
    let name = if type_of(env, name)? == sys::ValueType::napi_string { string(env, name)? } else { String::new() };
    let length = match primitive(env, length)? {
        Some(Transfer::Number(n)) if n >= 0.0 => n as u32,
        _ => 0,
    };
    Ok(Transfer::HostFunction(keep(env, value, name, length)?, mode))
}

fn keep(env: sys::napi_env, value: sys::napi_value, name: String, length: u32) -> napi::Result<std::sync::Arc<HostRef>> {
    let kind = type_of(env, value)?;
    let type_of = match kind {
        sys::ValueType::napi_undefined => "undefined",
        sys::ValueType::napi_null => "null",
        sys::ValueType::napi_boolean => "boolean",
        sys::ValueType::napi_number => "number",
        sys::ValueType::napi_string => "string",
        sys::ValueType::napi_function => "function",
        // (symbols and bigints too, as in isolated-vm: see `transfer::type_of`)
        _ => "object",
    };
    let host = current()?;
    let id = host.keep(value, kind == sys::ValueType::napi_object || kind == sys::ValueType::napi_function)?;
    Ok(std::sync::Arc::new(HostRef { id, host, type_of, name, length }))
}

fn serialized(env: sys::napi_env, value: sys::napi_value, helper_name: &'static std::ffi::CStr) -> napi::Result<Vec<u8>> {
    buffer_bytes(env, helper(env, helper_name, &[value])?)
}

/// A copy of the bytes of a Buffer (V8-format bytes from the serializer).
pub fn buffer_bytes(env: sys::napi_env, buffer: sys::napi_value) -> napi::Result<Vec<u8>> {
    let mut data = ptr::null_mut();
    let mut len = 0usize;
    // SAFETY: `buffer` is checked to be a Buffer by Node-API; its bytes are copied out.
    unsafe {
        napi_ok(env, sys::napi_get_buffer_info(env, buffer, &mut data, &mut len))?;
        if len == 0 {
            return Ok(Vec::new());
        }
        Ok(std::slice::from_raw_parts(data as *const u8, len).to_vec())
    }
}

/// An ExternalCopy payload of a host value (primitives included).
pub fn external_copy(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Transfer> {
    Ok(Transfer::ExternalCopy(SharedBytes::external(serialized(env, value, c"serialize")?)))
}

/// A host value leaving the host under TransferOptions `mode`: plain (primitives, our markers,
/// functions as callables, other objects as References), copied, as an ExternalCopy, or as a
/// Reference.
pub fn export_host(env: sys::napi_env, value: sys::napi_value, mode: Mode) -> napi::Result<Transfer> {
    match mode {
        Mode::Copy => from_js_copy(env, value),
        Mode::CallbackResult => match type_of(env, value)? {
            sys::ValueType::napi_function => host_function(env, value, CallMode::Sync),
            _ => from_js_copy(env, value),
        },
        Mode::ExternalCopy => external_copy(env, value),
        Mode::Reference => Ok(Transfer::HostReference(host_ref(env, value)?)),
        Mode::Plain => {
            if let Some(p) = primitive(env, value)? {
                return Ok(p);
            }
            if let Some(t) = wire(env, value) {
                return t;
            }
            match type_of(env, value)? {
                sys::ValueType::napi_function => host_function(env, value, CallMode::Sync),
                _ => Ok(Transfer::HostReference(host_ref(env, value)?)),
            }
        }
    }
}

/// A structured clone of a host value (markers and primitives pass as themselves).
pub fn from_js_copy(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Transfer> {
    if let Some(p) = primitive(env, value)? {
        return Ok(p);
    }
    if let Some(t) = wire(env, value) {
        return t;
    }
    Ok(Transfer::Copy(SharedBytes::copy(serialized(env, value, c"serialize")?)))
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
            Transfer::HostFunction(r, _) | Transfer::HostDeref(r) => out = current()?.value(r.id)?,
            Transfer::Pending(id) => out = current()?.pending_promise(*id)?,
            Transfer::HostReference(r) => {
                let value = current()?.value(r.id)?;
                out = helper(env, c"wrapHostReference", &[value])?;
            }
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
                let from_isolate = to_js(env, &Transfer::Bool(from_isolate && info.boundary))?;
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
        Ok(Thrown::Error(ErrorInfo { name: field(c"name")?, message: field(c"message")?, stack: field(c"stack")?, boundary: true }))
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

/// Turns the pending exception (or a napi failure) into a `Thrown`.
pub fn failure(env: sys::napi_env, error: napi::Error) -> Thrown {
    match take_exception(env) {
        Some(exception) => thrown_from_js(env, exception),
        None => Thrown::plain(error.reason),
    }
}

/// Performs an operation on a host value for an isolate (on the Node thread). For `apply` in
/// `SyncPromise` mode, returns the raw result for the caller to await.
pub fn perform_host_call(host: &NodeHost, call: HostCall, raw_result: bool) -> Result<Result<Transfer, sys::napi_value>, Thrown> {
    let env = host.env();
    let run = || -> napi::Result<Result<Transfer, sys::napi_value>> {
        let target = host.value(call.target.id)?;
        let mut result = ptr::null_mut();
        // SAFETY: Node-API calls with live values of this environment; a failing call leaves a
        // pending exception that `failure` takes.
        unsafe {
            match &call.op {
                HostOp::Apply { this, args } => {
                    let this = to_js(env, this)?;
                    let args = args.iter().map(|a| to_js(env, a)).collect::<napi::Result<Vec<_>>>()?;
                    napi_ok(env, sys::napi_call_function(env, this, target, args.len(), args.as_ptr(), &mut result))?;
                    if raw_result {
                        return Ok(Err(result));
                    }
                }
                // isolated-vm's property rules, written once for host values: lib/properties.js.
                HostOp::Get { key, accessors } => {
                    let args = [target, to_js(env, key)?, to_js(env, &Transfer::Bool(false))?, to_js(env, &Transfer::Bool(*accessors))?];
                    result = helper(env, c"getProperty", &args)?;
                }
                HostOp::Set { key, value } => {
                    helper(env, c"setProperty", &[target, to_js(env, key)?, to_js(env, value)?])?;
                    return Ok(Ok(Transfer::Undefined));
                }
                HostOp::Delete { key } => {
                    helper(env, c"deleteProperty", &[target, to_js(env, key)?])?;
                    return Ok(Ok(Transfer::Undefined));
                }
                HostOp::Copy => return from_js_copy(env, target).map(Ok),
            }
        }
        export_host(env, result, call.result).map(Ok)
    };
    run().map_err(|e| failure(env, e))
}

/// Exports the settled value of an awaited host promise.
pub fn export_settled(env: sys::napi_env, value: sys::napi_value, ok: bool, mode: Mode) -> HostResult {
    if !ok {
        return Err(thrown_from_js(env, value));
    }
    export_host(env, value, mode).map_err(|e| failure(env, e))
}
