//! Values crossing the boundary: the `Transfer` form that travels between threads, and the
//! conversions between it and QuickJS values, following isolated-vm's TransferOptions.

use std::sync::Arc;

use rquickjs::function::{Rest, This};
use rquickjs::{Ctx, Function, Value};

use super::errors::{text, ErrorInfo, Thrown};
use super::host::{CallMode, HostCall, HostFunction};
use super::isolate::Isolate;
use super::v8_wire::{self, CloneError};

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
    Copy(Arc<[u8]>),
    /// The same bytes, arriving as an `ExternalCopy` instead of a value.
    ExternalCopy(Arc<[u8]>),
    /// A handle to a value that lives in an isolate.
    Reference(Arc<RefHandle>),
    /// `reference.derefInto()`: becomes the referenced value itself in its owning isolate.
    Deref(Arc<RefHandle>),
    /// An isolate function offered to the host as a plain callable (get/apply results).
    Function(Arc<RefHandle>),
    /// A host function; inside an isolate, a plain function (isolated-vm's Callback).
    HostFunction(Arc<HostFunction>, CallMode),
}

impl std::fmt::Debug for HostFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "HostFunction({})", self.id)
    }
}

/// A value held alive in an isolate's handle table. Dropping the last `Arc` releases it.
pub struct RefHandle {
    pub isolate: Arc<Isolate>,
    pub id: u32,
    /// `typeof` of the value, with `null` for null (isolated-vm's `Reference.typeof`).
    pub type_of: &'static str,
}

impl std::fmt::Debug for RefHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "RefHandle({}#{})", self.isolate.id, self.id)
    }
}

impl Drop for RefHandle {
    fn drop(&mut self) {
        self.isolate.release_handle(self.id);
        self.isolate.release_host_handle();
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
}

/// What an operation does with a value that is not transferable without options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `eval`/`run` results.
    Undefined,
    /// `get`/`apply` results: objects become References, functions callables.
    Reference,
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
        Type::String => Transfer::String(value.as_string()?.to_string().ok()?),
        Type::BigInt => {
            let (negative, magnitude) = v8_wire::bigint_parts(value.ctx(), value).ok()?;
            Transfer::BigInt { negative, magnitude }
        }
        _ => return None,
    })
}

pub fn type_of(value: &Value) -> &'static str {
    use rquickjs::Type;
    match value.type_of() {
        Type::Uninitialized | Type::Undefined => "undefined",
        Type::Null => "null",
        Type::Bool => "boolean",
        Type::Int | Type::Float => "number",
        Type::String => "string",
        Type::Symbol => "symbol",
        Type::BigInt => "bigint",
        Type::Function | Type::Constructor => "function",
        _ => "object",
    }
}

/// A structured clone of `value` (primitives pass as themselves, which reads the same).
pub fn export_copy<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Transfer, CloneError> {
    if let Some(p) = primitive(value) {
        return Ok(p);
    }
    Ok(Transfer::Copy(v8_wire::write(ctx, value)?.into()))
}

/// Turns a clone failure into the error the contract names, taking a pending exception along.
pub fn clone_error(ctx: &Ctx, err: CloneError) -> Thrown {
    match err {
        CloneError::Exception => super::errors::capture(ctx, ctx.catch()),
        CloneError::NotCloneable(_) => Thrown::type_error(err.message()),
        CloneError::TooDeep => Thrown::error("RangeError", err.message()),
        CloneError::Malformed(_) => Thrown::plain(err.message()),
    }
}

/// Exports a value from the isolate under `mode`, or the operation's `fallback`.
pub fn export<'js>(ctx: &Ctx<'js>, isolate: &Arc<Isolate>, value: Value<'js>, mode: Mode, fallback: Fallback) -> Result<Transfer, Thrown> {
    match mode {
        Mode::Copy => export_copy(ctx, &value).map_err(|e| clone_error(ctx, e)),
        Mode::ExternalCopy => {
            let bytes = v8_wire::write(ctx, &value).map_err(|e| clone_error(ctx, e))?;
            Ok(Transfer::ExternalCopy(bytes.into()))
        }
        Mode::Reference => Ok(Transfer::Reference(isolate.new_handle(ctx, value))),
        Mode::Plain => {
            if let Some(p) = primitive(&value) {
                return Ok(p);
            }
            if let Some(t) = isolate.state().recognise(ctx, &value) {
                return Ok(t);
            }
            // Functions are transferable: the host gets a plain callable.
            if value.is_function() {
                return Ok(Transfer::Function(isolate.new_handle(ctx, value)));
            }
            match fallback {
                Fallback::Undefined => Ok(Transfer::Undefined),
                Fallback::Throw => Err(Thrown::type_error(text::NON_TRANSFERABLE)),
                Fallback::Reference => Ok(Transfer::Reference(isolate.new_handle(ctx, value))),
            }
        }
    }
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
        Transfer::ExternalCopy(bytes) => isolate.state().sandbox_external_copy(ctx, bytes.clone()),
        Transfer::Reference(handle) => isolate.state().sandbox_reference(ctx, handle.clone()),
        Transfer::Function(handle) | Transfer::Deref(handle) => {
            if !Arc::ptr_eq(&handle.isolate, isolate) {
                if matches!(value, Transfer::Deref(_)) {
                    return Err(Thrown::type_error(text::WRONG_ISOLATE_DEREF));
                }
                return isolate.state().sandbox_reference(ctx, handle.clone());
            }
            isolate.state().handle_value(ctx, handle.id)
        }
        Transfer::HostFunction(function, mode) => host_function(ctx, function.clone(), *mode),
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
        if !info.stack.is_empty() {
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

/// A plain function in the isolate that calls a host function, copying arguments and result.
fn host_function<'js>(ctx: &Ctx<'js>, function: Arc<HostFunction>, mode: CallMode) -> Result<Value<'js>, Thrown> {
    let f = Function::new(ctx.clone(), move |ctx: Ctx<'js>, this: This<Value<'js>>, args: Rest<Value<'js>>| {
        let isolate = Isolate::current().expect("host function called outside its isolate");
        let copy = |v: &Value<'js>| export_copy(&ctx, v).map_err(|e| clone_error(&ctx, e));
        let call = (|| -> Result<HostCall, Thrown> {
            let this = if this.0.is_undefined() || this.0.is_object() { Transfer::Undefined } else { copy(&this.0)? };
            let args = args.0.iter().map(copy).collect::<Result<Vec<_>, _>>()?;
            Ok(HostCall { function: function.clone(), this, args })
        })();
        let call = match call {
            Ok(call) => call,
            Err(thrown) => return Err(throw(&ctx, &isolate, thrown)),
        };
        match isolate.call_host(&ctx, call, mode) {
            Ok(value) => Ok(value),
            Err(thrown) => Err(throw(&ctx, &isolate, thrown)),
        }
    })
    .map_err(|_| Thrown::plain("could not create a host function"))?;
    Ok(f.into_value())
}
