//! Values crossing the boundary: the `Transfer` form that travels between threads, and the
//! conversions between it and QuickJS values, following isolated-vm's TransferOptions.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rquickjs::{qjs, Ctx, Value};

use super::errors::{text, ErrorInfo, Thrown};
use super::host::{CallMode, HostRef};
use super::isolate::Isolate;
use super::sandbox::{self, Kind, Target};
use super::v8_wire::{self, CloneError};

/// Bytes held by live ExternalCopy payloads, in every isolate and the host
/// (`ExternalCopy.totalExternalSize`).
static EXTERNAL_BYTES: AtomicUsize = AtomicUsize::new(0);

/// Immutable structured-clone bytes, shared by everything that materialises them.
pub struct SharedBytes {
    // A Vec (not a boxed slice): turning the writer's buffer into a box would copy it.
    bytes: Vec<u8>,
    /// Counted in `totalExternalSize` (the payload of an ExternalCopy).
    external: bool,
}

impl SharedBytes {
    pub fn copy(bytes: Vec<u8>) -> Arc<SharedBytes> {
        Arc::new(SharedBytes { bytes, external: false })
    }

    pub fn external(bytes: Vec<u8>) -> Arc<SharedBytes> {
        EXTERNAL_BYTES.fetch_add(bytes.len(), Ordering::Relaxed);
        Arc::new(SharedBytes { bytes, external: true })
    }

    pub fn total_external() -> usize {
        EXTERNAL_BYTES.load(Ordering::Relaxed)
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for SharedBytes {
    fn drop(&mut self) {
        if self.external {
            EXTERNAL_BYTES.fetch_sub(self.bytes.len(), Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.bytes.len())
    }
}

/// A value on its way between the host and an isolate (or between isolates). It holds no
/// QuickJS or Node value, so it may cross threads.
#[derive(Clone, Debug)]
pub enum Transfer {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// Sign and little-endian magnitude bytes.
    BigInt { negative: bool, magnitude: Vec<u8> },
    /// A structured clone, in V8's serialization format; materialised as a fresh value.
    Copy(Arc<SharedBytes>),
    /// The same bytes, arriving as an `ExternalCopy` instead of a value.
    ExternalCopy(Arc<SharedBytes>),
    /// A handle to a value that lives in an isolate.
    Reference(Arc<RefHandle>),
    /// `reference.derefInto()`: becomes the referenced value itself in its owning isolate.
    Deref(Arc<RefHandle>),
    /// An isolate function offered to the host as a plain callable (get/apply results).
    Function(Arc<RefHandle>),
    /// A host function; inside an isolate, a plain function (isolated-vm's Callback).
    HostFunction(Arc<HostRef>, CallMode),
    /// A Reference to a host value.
    HostReference(Arc<HostRef>),
    /// `derefInto()` of a host Reference: becomes the host value itself in the host.
    HostDeref(Arc<HostRef>),
    /// The result of a synchronous call with `promise: true` whose promise settles later: the
    /// host gets a Promise, settled by `HostRequest::Settle` with this id (see
    /// `IsolateState::settle_later`).
    Pending(u64),
}

/// A value held alive in an isolate's handle table. Dropping the last `Arc` releases it.
pub struct RefHandle {
    pub isolate: Arc<Isolate>,
    pub id: u32,
    /// `typeof` of the value, with `null` for null (isolated-vm's `Reference.typeof`).
    pub type_of: &'static str,
    /// Made with `unsafeInherit`: `get` also reads inherited properties.
    pub inherit: bool,
    /// A function's own `name` and `length` (data properties; none read from a proxy), for the
    /// callable the host gets: isolated-vm's carries them.
    pub signature: Option<(String, u32)>,
}

impl Transfer {
    /// The isolate whose value this transfer holds a handle to, if any.
    pub fn held_isolate(&self) -> Option<&Arc<Isolate>> {
        match self {
            Transfer::Reference(h) | Transfer::Deref(h) | Transfer::Function(h) => Some(&h.isolate),
            _ => None,
        }
    }
}

impl std::fmt::Debug for RefHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "RefHandle({}#{})", self.isolate.id, self.id)
    }
}

impl Drop for RefHandle {
    fn drop(&mut self) {
        self.isolate.release_handle(self.id);
    }
}

/// isolated-vm's TransferOptions, minus `promise` (handled by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// No option: primitives pass; other values follow the operation's fallback.
    #[default]
    Plain,
    Copy,
    ExternalCopy,
    Reference,
    /// A Callback's result (isolated-vm's `{ fallback: Copy }`): our objects and markers pass as
    /// themselves, functions become callables, anything else is copied.
    CallbackResult,
}

/// What an operation does with a value that is not transferable without options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `eval`/`run` results.
    Undefined,
    /// `get`/`apply` results: objects become References, functions callables.
    Reference,
    /// `get` results of a Reference made with `unsafeInherit`: References that inherit too, as
    /// isolated-vm's.
    InheritingReference,
    /// `evalClosure` results: `TypeError: A non-transferable value was passed`.
    Throw,
}

fn primitive<'js>(value: &Value<'js>) -> Option<Transfer> {
    use rquickjs::Type;
    Some(match value.type_of() {
        Type::Uninitialized | Type::Undefined => Transfer::Undefined,
        Type::Null => Transfer::Null,
        Type::Bool => Transfer::Bool(value.as_bool().unwrap_or(false)),
        Type::Int => Transfer::Number(value.as_int().unwrap_or(0) as f64),
        Type::Float => Transfer::Number(value.as_float().unwrap_or(f64::NAN)),
        Type::String => match value.as_string()?.to_string() {
            Ok(s) => Transfer::String(s),
            // A lone surrogate has no UTF-8 form: it travels as a structured clone (UTF-16).
            Err(_) => Transfer::Copy(SharedBytes::copy(v8_wire::write(value.ctx(), value).ok()?)),
        },
        Type::BigInt => {
            let (negative, magnitude) = v8_wire::bigint_parts(value.ctx(), value).ok()?;
            Transfer::BigInt { negative, magnitude }
        }
        _ => return None,
    })
}

/// A Reference's `typeof`: JavaScript's, but for `null`, and symbols and bigints read "object",
/// as isolated-vm's (which knows no other kinds).
pub fn type_of(value: &Value) -> &'static str {
    use rquickjs::Type;
    match value.type_of() {
        Type::Uninitialized | Type::Undefined => "undefined",
        Type::Null => "null",
        Type::Bool => "boolean",
        Type::Int | Type::Float => "number",
        Type::String => "string",
        Type::Function | Type::Constructor => "function",
        _ => "object",
    }
}

/// A structured clone of `value` (primitives pass as themselves, which reads the same).
pub fn export_copy<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Transfer, CloneError> {
    if let Some(p) = primitive(value) {
        return Ok(p);
    }
    if value.is_symbol() {
        // isolated-vm checks the top-level value before cloning it.
        return Err(CloneError::Unsupported);
    }
    Ok(Transfer::Copy(SharedBytes::copy(v8_wire::write(ctx, value)?)))
}

/// Turns a clone failure into the error the contract names, taking a pending exception along.
pub fn clone_error(ctx: &Ctx, err: CloneError) -> Thrown {
    match err {
        CloneError::Exception => super::errors::capture(ctx, ctx.catch()),
        CloneError::NotCloneable(_) | CloneError::Unsupported => Thrown::type_error(err.message()),
        CloneError::TooDeep => Thrown::error("RangeError", err.message()),
        CloneError::Malformed(_) => Thrown::plain(err.message()),
    }
}

/// Exports a value from the isolate under `mode`, or the operation's `fallback`.
pub fn export<'js>(ctx: &Ctx<'js>, isolate: &Arc<Isolate>, value: Value<'js>, mode: Mode, fallback: Fallback) -> Result<Transfer, Thrown> {
    match mode {
        // (Callbacks made inside an isolate are called by the host with `copy` options.)
        Mode::Copy | Mode::CallbackResult => export_copy(ctx, &value).map_err(|e| clone_error(ctx, e)),
        Mode::ExternalCopy => {
            let bytes = v8_wire::write(ctx, &value).map_err(|e| clone_error(ctx, e))?;
            Ok(Transfer::ExternalCopy(SharedBytes::external(bytes)))
        }
        Mode::Reference => Ok(Transfer::Reference(isolate.new_handle(ctx, value))),
        Mode::Plain => {
            if let Some(p) = primitive(&value) {
                return Ok(p);
            }
            if let Some(t) = sandbox::unwrap(&value) {
                return t;
            }
            // Functions are transferable: the host gets a plain callable.
            if value.is_function() {
                let signature = signature(ctx, &value);
                return Ok(Transfer::Function(isolate.new_handle_signed(ctx, value, signature)));
            }
            match fallback {
                Fallback::Undefined => Ok(Transfer::Undefined),
                Fallback::Throw => Err(Thrown::type_error(text::NON_TRANSFERABLE)),
                Fallback::Reference => Ok(Transfer::Reference(isolate.new_handle(ctx, value))),
                Fallback::InheritingReference => Ok(Transfer::Reference(isolate.new_handle_with(ctx, value, true))),
            }
        }
    }
}

/// A function's own data properties `name` and `length`, without running any code (no getter,
/// no proxy trap).
fn signature<'js>(ctx: &Ctx<'js>, function: &Value<'js>) -> Option<(String, u32)> {
    if super::v8_wire::class_id(function) == super::v8_wire::class::PROXY {
        return None;
    }
    let raw = ctx.as_raw().as_ptr();
    let own_data = |name: &std::ffi::CStr| -> Option<Value<'js>> {
        // SAFETY: the atom and the descriptor's values are freed, or handed to a Value, here.
        unsafe {
            let atom = qjs::JS_NewAtom(raw, name.as_ptr());
            let mut desc = std::mem::zeroed::<qjs::JSPropertyDescriptor>();
            let found = qjs::JS_GetOwnProperty(raw, &mut desc, function.as_raw(), atom);
            qjs::JS_FreeAtom(raw, atom);
            if found <= 0 {
                if found < 0 {
                    let _ = ctx.catch();
                }
                return None;
            }
            qjs::JS_FreeValue(raw, desc.getter);
            qjs::JS_FreeValue(raw, desc.setter);
            let value = Value::from_raw(ctx.clone(), desc.value);
            (desc.flags & qjs::JS_PROP_GETSET as i32 == 0).then_some(value)
        }
    };
    let name = own_data(c"name").and_then(|v| v.as_string().and_then(|s| s.to_string().ok())).unwrap_or_default();
    let length = own_data(c"length").and_then(|v| v.as_number()).filter(|n| n.is_finite() && *n >= 0.0).unwrap_or(0.0);
    Some((name, length.min(u32::MAX as f64) as u32))
}

/// Brings a transferred value into the isolate.
pub fn import<'js>(ctx: &Ctx<'js>, isolate: &Arc<Isolate>, value: &Transfer) -> Result<Value<'js>, Thrown> {
    let js = |r: rquickjs::Result<Value<'js>>| r.map_err(|_| super::errors::capture(ctx, ctx.catch()));
    match value {
        Transfer::Undefined => Ok(Value::new_undefined(ctx.clone())),
        Transfer::Null => Ok(Value::new_null(ctx.clone())),
        Transfer::Bool(b) => Ok(Value::new_bool(ctx.clone(), *b)),
        Transfer::Number(n) => Ok(v8_wire::number(ctx, *n)),
        Transfer::String(s) => js(rquickjs::String::from_str(ctx.clone(), s).map(|s| s.into_value())),
        Transfer::BigInt { negative, magnitude } => {
            v8_wire::bigint_from_parts(ctx, *negative, magnitude).map_err(|e| clone_error(ctx, e))
        }
        Transfer::Copy(bytes) => v8_wire::read(ctx, bytes).map_err(|e| clone_error(ctx, e)),
        Transfer::ExternalCopy(_) => sandbox::wrap(ctx, Kind::ExternalCopy, value.clone(), false),
        Transfer::Reference(_) | Transfer::HostReference(_) => sandbox::wrap(ctx, Kind::Reference, value.clone(), false),
        Transfer::Deref(handle) => {
            if !Arc::ptr_eq(&handle.isolate, isolate) {
                return Err(Thrown::type_error(text::WRONG_ISOLATE_DEREF));
            }
            isolate.state().handle_value(ctx, handle.id)
        }
        Transfer::HostDeref(_) => Err(Thrown::type_error(text::WRONG_ISOLATE_DEREF)),
        Transfer::Pending(_) => Err(Thrown::type_error(text::NON_TRANSFERABLE)),
        Transfer::Function(handle) => {
            if Arc::ptr_eq(&handle.isolate, isolate) {
                return isolate.state().handle_value(ctx, handle.id);
            }
            sandbox::callable(ctx, Target::Isolate(handle.clone()), CallMode::Sync)
        }
        Transfer::HostFunction(function, mode) => sandbox::callable(ctx, Target::Host(function.clone()), *mode),
    }
}

/// Builds an Error object in the isolate from a host error.
pub fn error_value<'js>(ctx: &Ctx<'js>, info: &ErrorInfo) -> Value<'js> {
    let build = || -> rquickjs::Result<Value<'js>> {
        let standard = matches!(
            info.name.as_str(),
            "Error" | "TypeError" | "RangeError" | "SyntaxError" | "ReferenceError" | "EvalError" | "URIError"
        );
        let ctor: rquickjs::Constructor = ctx.globals().get(if standard { info.name.as_str() } else { "Error" })?;
        let err: rquickjs::Object = ctor.construct((info.message.as_str(),))?;
        if !standard {
            err.set("name", info.name.as_str())?;
        }
        // A stack with frames came from where the error was thrown; one without (an error of
        // ours, raised by an operation called here) keeps the frames captured here, as V8's do.
        if info.stack.contains('\n') {
            err.set("stack", info.stack.as_str())?;
        }
        Ok(err.into_value())
    };
    build().unwrap_or_else(|_| Value::new_undefined(ctx.clone()))
}

/// Throws a `Thrown` inside the isolate.
pub fn throw<'js>(ctx: &Ctx<'js>, isolate: &Arc<Isolate>, thrown: Thrown) -> rquickjs::Error {
    let value = match &thrown {
        Thrown::Error(info) => error_value(ctx, info),
        Thrown::Value(t) => import(ctx, isolate, t).unwrap_or_else(|_| Value::new_undefined(ctx.clone())),
    };
    ctx.throw(value)
}

/// The stack of an error a host function threw at a synchronous call from here: its own, then,
/// as in isolated-vm, the boundary marker and the frames of the code here that made the call.
pub fn with_caller_frames(ctx: &Ctx, stack: &str) -> String {
    let here = (|| -> rquickjs::Result<String> {
        let ctor: rquickjs::Constructor = ctx.globals().get("Error")?;
        let probe: rquickjs::Object = ctor.construct(("",))?;
        probe.get("stack")
    })();
    match here.ok().and_then(|s| s.split_once('\n').map(|(_, frames)| frames.to_string())) {
        Some(frames) if !frames.is_empty() => format!("{stack}\n    at (<isolated-vm boundary>)\n{frames}"),
        _ => stack.to_string(),
    }
}

