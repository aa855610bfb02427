//! The API as code inside an isolate sees it: `Reference`, `ExternalCopy`, `Callback` and the
//! markers of `derefInto()` / `copyInto()` are real objects there. Each is an instance of one
//! native class (`Handle`, carrying a `Transfer`) with the prototype of a JS class from the
//! prelude, whose methods call back into `op` here.
//!
//! Every operation on a Reference has three phases, as in isolated-vm: *prepare* in the calling
//! isolate (read the arguments and options, export the values), *perform* wherever the value
//! lives (this isolate, another one, or the host), *finish* back in the caller (import the
//! result). The sync, async and ignored spellings share all three.

use std::sync::Arc;

use rquickjs::class::{Class, JsClass, Readable, Trace, Tracer};
use rquickjs::function::{Rest, This};
use rquickjs::{qjs, Ctx, Function, JsLifetime, Object, Value};

use super::errors::{text, Thrown};
use super::host::{CallMode, HostCall, HostOp, HostRef};
use super::isolate::Isolate;
use super::state::RunOptions;
use super::transfer::{self, clone_error, Mode, RefHandle, SharedBytes, Transfer};
use super::v8_wire;

/// What a sandbox object stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Reference = 0,
    ExternalCopy = 1,
    DerefMarker = 2,
    CopyMarker = 3,
    Callback = 4,
}

/// The native half of every sandbox object.
pub struct Handle {
    kind: Kind,
    /// `None` once released (or used, for a single-use marker).
    transfer: std::cell::RefCell<Option<Transfer>>,
    /// A marker made with `release: true`: it may land once.
    single_use: bool,
}

// SAFETY: Handle holds no JS values, so it is the same type for every lifetime.
unsafe impl<'js> JsLifetime<'js> for Handle {
    type Changed<'to> = Handle;
}

impl<'js> Trace<'js> for Handle {
    fn trace<'a>(&self, _tracer: Tracer<'a, 'js>) {}
}

impl<'js> JsClass<'js> for Handle {
    const NAME: &'static str = "IsolatedHandle";
    type Mutable = Readable;

    fn constructor(_ctx: &Ctx<'js>) -> rquickjs::Result<Option<rquickjs::function::Constructor<'js>>> {
        Ok(None)
    }
}

/// Spellings as the prelude passes them to `op`.
const SYNC: i32 = 0;
const ASYNC: i32 = 1;
const IGNORED: i32 = 2;
const SYNC_PROMISE: i32 = 3;

fn released_text(kind: Kind) -> &'static str {
    match kind {
        Kind::ExternalCopy | Kind::CopyMarker => "Copy has been released",
        _ => text::REFERENCE_RELEASED,
    }
}

/// Wraps `transfer` as a sandbox object of `kind` in the context of `ctx`.
pub fn wrap<'js>(ctx: &Ctx<'js>, kind: Kind, transfer: Transfer, single_use: bool) -> Result<Value<'js>, Thrown> {
    let isolate = Isolate::current().ok_or_else(|| Thrown::plain("no isolate"))?;
    if kind == Kind::ExternalCopy {
        isolate.state().note_external_copy();
    }
    let prototypes = isolate.state().prototypes(ctx)?;
    let name = match kind {
        Kind::Reference => "Reference",
        Kind::ExternalCopy => "ExternalCopy",
        Kind::DerefMarker => "DerefMarker",
        Kind::CopyMarker => "CopyMarker",
        Kind::Callback => "Callback",
    };
    let js = |e: rquickjs::Error| Thrown::plain(e.to_string());
    let proto: Object = prototypes.get(name).map_err(js)?;
    let handle = Handle { kind, transfer: std::cell::RefCell::new(Some(transfer)), single_use };
    let value = Class::instance_proto(handle, proto).map(|c| c.into_value()).map_err(js)?;
    // Closed to new properties and a new prototype, as isolated-vm's handles are.
    // SAFETY: a live object just made in this context.
    if unsafe { qjs::JS_PreventExtensions(ctx.as_raw().as_ptr(), value.as_raw()) } < 0 {
        return Err(super::errors::capture(ctx, ctx.catch()));
    }
    Ok(value)
}

/// The transfer a sandbox object stands for, when `value` is one (a single-use marker is spent).
pub fn unwrap(value: &Value) -> Option<Result<Transfer, Thrown>> {
    let class = Class::<Handle>::from_value(value).ok()?;
    let handle = class.borrow();
    let mut slot = handle.transfer.borrow_mut();
    let result = match &*slot {
        None if matches!(handle.kind, Kind::DerefMarker | Kind::CopyMarker) && handle.single_use => Err(Thrown::plain(match handle.kind {
            Kind::CopyMarker => "The return value of `copyInto()` should only be used once",
            _ => "The return value of `derefInto()` should only be used once",
        })),
        None => Err(Thrown::plain(released_text(handle.kind))),
        Some(t) => Ok(t.clone()),
    };
    if handle.single_use {
        *slot = None;
    }
    Some(result)
}

/// A plain function in the isolate that performs `apply` on a host function or on a function of
/// another isolate (Callbacks, and functions returned by `get`/`apply`).
pub fn callable<'js>(ctx: &Ctx<'js>, target: Target, mode: CallMode) -> Result<Value<'js>, Thrown> {
    let signature = match &target {
        Target::Host(function) => Some((function.name.clone(), function.length as usize)),
        Target::Isolate(_) => None,
    };
    let f = native_function(ctx, move |ctx: Ctx<'js>, this: This<Value<'js>>, args: Rest<Value<'js>>| {
        let isolate = Isolate::current().expect("sandbox function called outside its isolate");
        let prepared = (|| -> Result<Prepared, Thrown> {
            let copy = |v: &Value<'js>| transfer::export_copy(&ctx, v).map_err(|e| clone_error(&ctx, e));
            let this = if this.0.is_undefined() || this.0.is_object() { Transfer::Undefined } else { copy(&this.0)? };
            let args = args.0.iter().map(copy).collect::<Result<Vec<_>, _>>()?;
            // As in isolated-vm, the result is copied as it is (an async Callback does not await a
            // promise its function returns), but for functions and our own objects.
            Ok(Prepared { target: target.clone(), op: Op::Apply { this, args }, options: RunOptions { mode: Mode::CallbackResult, ..Default::default() } })
        })();
        let spelling = match mode {
            CallMode::Sync => SYNC,
            CallMode::Async => ASYNC,
            CallMode::Ignored => IGNORED,
            CallMode::SyncPromise => SYNC_PROMISE,
        };
        let result = prepared.and_then(|p| run_spelling(&ctx, &isolate, p, spelling));
        result.map_err(|thrown| transfer::throw(&ctx, &isolate, thrown))
    })
    .map_err(|e| Thrown::plain(e.to_string()))?;
    if let Some((name, length)) = signature {
        f.set_name(name).and_then(|_| f.set_length(length)).map_err(|e| Thrown::plain(e.to_string()))?;
    }
    Ok(f.into_value())
}

/// Where a Reference's value lives.
#[derive(Clone, Debug)]
pub enum Target {
    Isolate(Arc<RefHandle>),
    Host(Arc<HostRef>),
}

impl Target {
    fn of(transfer: &Transfer) -> Option<Target> {
        match transfer {
            Transfer::Reference(h) | Transfer::Function(h) => Some(Target::Isolate(h.clone())),
            Transfer::HostReference(r) | Transfer::HostFunction(r, _) => Some(Target::Host(r.clone())),
            _ => None,
        }
    }
}

#[derive(Debug)]
enum Op {
    Get { key: Transfer, inherit: bool, accessors: bool },
    Set { key: Transfer, value: Transfer },
    Delete { key: Transfer },
    Apply { this: Transfer, args: Vec<Transfer> },
    Copy,
}

/// Phase one's output: everything phase two needs, free of JS values.
#[derive(Debug)]
struct Prepared {
    target: Target,
    op: Op,
    options: RunOptions,
}

/// Phase two: performs the operation where the value lives.
fn perform(prepared: Prepared, mode: CallMode) -> Result<Transfer, Thrown> {
    let Prepared { target, op, options } = prepared;
    match target {
        Target::Isolate(handle) => {
            let id = handle.id;
            handle.isolate.clone().run_sync(move |iso| {
                let state = iso.state();
                match &op {
                    Op::Get { key, inherit, accessors } => state.get(iso, id, key, &options, *inherit, *accessors),
                    Op::Set { key, value } => state.set(iso, id, key, value).map(|_| Transfer::Undefined),
                    Op::Delete { key } => state.delete(id, key).map(|_| Transfer::Undefined),
                    Op::Apply { this, args } => state.apply(iso, id, this, args, &options),
                    Op::Copy => state.copy(id),
                }
            })
        }
        Target::Host(target) => {
            let isolate = Isolate::current().ok_or_else(|| Thrown::plain("no isolate"))?;
            let (call, mode) = host_call(target, op, options, mode);
            isolate.call_host(call, mode)
        }
    }
}

/// A host operation as the host takes it.
fn host_call(target: Arc<HostRef>, op: Op, options: RunOptions, mode: CallMode) -> (HostCall, CallMode) {
    let op = match op {
        Op::Get { key, accessors, .. } => HostOp::Get { key, accessors },
        Op::Set { key, value } => HostOp::Set { key, value },
        Op::Delete { key } => HostOp::Delete { key },
        Op::Apply { this, args } => HostOp::Apply { this, args },
        Op::Copy => HostOp::Copy,
    };
    // `result: { promise: true }` on a host function means: wait for its promise.
    let mode = if options.promise && matches!(op, HostOp::Apply { .. }) && mode == CallMode::Sync { CallMode::SyncPromise } else { mode };
    (HostCall { target, op, result: options.mode }, mode)
}

/// Phases two and three in the requested spelling.
fn run_spelling<'js>(ctx: &Ctx<'js>, isolate: &Arc<Isolate>, prepared: Prepared, spelling: i32) -> Result<Value<'js>, Thrown> {
    // `applySync` of a host function with `result: { promise: true }` gives the isolate a promise,
    // as in isolated-vm, rather than waiting for the host's (which a synchronous call from the
    // host could never see settle): the call is queued as the isolate's next work, as `apply`'s.
    let promised_host_call = prepared.options.promise && matches!(prepared.target, Target::Host(_)) && matches!(prepared.op, Op::Apply { .. });
    let spelling = if spelling == SYNC && promised_host_call { ASYNC } else { spelling };
    match spelling {
        SYNC | SYNC_PROMISE => {
            let mode = if spelling == SYNC { CallMode::Sync } else { CallMode::SyncPromise };
            if mode == CallMode::SyncPromise && !matches!(prepared.target, Target::Host(_)) {
                return Err(Thrown::type_error("applySyncPromise may only be used on functions that live in the host"));
            }
            // (The result is always copied back: isolated-vm refuses any say in it, even
            // `reference: true`.)
            if mode == CallMode::SyncPromise && (prepared.options.promise || prepared.options.mode != Mode::Plain) {
                return Err(Thrown::type_error("`result` options are not available for `applySyncPromise`"));
            }
            let from_host = matches!(prepared.target, Target::Host(_));
            let result = match perform(prepared, mode) {
                // (A rejection awaited by applySyncPromise gets no such frames in isolated-vm.)
                Err(Thrown::Error(mut info)) if from_host && mode == CallMode::Sync && info.stack.contains('\n') => {
                    info.stack = transfer::with_caller_frames(ctx, &info.stack);
                    return Err(Thrown::Error(info));
                }
                other => other?,
            };
            transfer::import(ctx, isolate, &result)
        }
        IGNORED => {
            if let Target::Host(_) = prepared.target {
                perform(prepared, CallMode::Ignored)?;
            } else {
                isolate.run_async(move |iso| {
                    if let Some(iso) = iso {
                        let _ = iso.execute_async(|_| perform(prepared, CallMode::Sync));
                    }
                });
            }
            Ok(Value::new_undefined(ctx.clone()))
        }
        _ => {
            // ASYNC: a promise now; the operation runs as the isolate's next queued work. A host
            // operation is handed to the host now, when the host is not waiting on this isolate:
            // the host then sees it before whatever the isolate sends it next (the result of the
            // run that made the call), in the order isolated-vm keeps; the isolate's queued work
            // waits for the answer and settles the promise.
            let (promise, resolve, reject) = ctx.promise().map_err(|e| Thrown::plain(e.to_string()))?;
            let resolve = isolate.state().hold(ctx, resolve.into_value());
            let reject = isolate.state().hold(ctx, reject.into_value());
            let posting = !isolate.host.is_host_thread() && !Isolate::current_is_sync();
            let work = match prepared {
                Prepared { target: Target::Host(target), op, options } if posting => {
                    let (call, mode) = host_call(target, op, options, CallMode::Sync);
                    Err(isolate.post_host_call(call, mode))
                }
                prepared => Ok(prepared),
            };
            isolate.run_async(move |iso| {
                let Some(iso) = iso else { return };
                let _ = iso.execute_async(move |iso| {
                    // (`Err`: the call already posted to the host.)
                    let outcome = match work {
                        Ok(prepared) => perform(prepared, CallMode::Sync),
                        Err(posted) => iso.await_host_reply(posted.awaited_here()),
                    };
                    iso.state().settle_held(iso, resolve, reject, outcome);
                    Ok(())
                });
            });
            Ok(promise.into_value())
        }
    }
}

fn options_object<'js>(value: Option<&Value<'js>>) -> Option<Object<'js>> {
    value.and_then(|v| v.as_object()).cloned()
}

fn flag(options: &Option<Object>, name: &str) -> bool {
    options.as_ref().and_then(|o| o.get::<_, Value>(name).ok()).map(|v| truthy(&v)).unwrap_or(false)
}

fn truthy(v: &Value) -> bool {
    match v.type_of() {
        rquickjs::Type::Undefined | rquickjs::Type::Null | rquickjs::Type::Uninitialized => false,
        rquickjs::Type::Bool => v.as_bool().unwrap_or(false),
        rquickjs::Type::Int => v.as_int() != Some(0),
        rquickjs::Type::Float => v.as_float().map(|f| f != 0.0 && !f.is_nan()).unwrap_or(false),
        rquickjs::Type::String => v.as_string().and_then(|s| s.to_string().ok()).map(|s| !s.is_empty()).unwrap_or(false),
        _ => true,
    }
}

/// TransferOptions read from an object inside the isolate.
fn transfer_mode(options: &Option<Object>) -> Result<(Mode, bool), Thrown> {
    let copy = flag(options, "copy");
    let external = flag(options, "externalCopy");
    let reference = flag(options, "reference");
    if copy as u8 + external as u8 + reference as u8 > 1 {
        return Err(Thrown::type_error("Only one of `copy`, `externalCopy`, or `reference` may be set"));
    }
    let mode = if copy {
        Mode::Copy
    } else if external {
        Mode::ExternalCopy
    } else if reference {
        Mode::Reference
    } else {
        Mode::Plain
    };
    Ok((mode, flag(options, "promise")))
}

fn timeout(options: &Option<Object>) -> Result<Option<f64>, Thrown> {
    let Some(v) = options.as_ref().and_then(|o| o.get::<_, Value>("timeout").ok()) else { return Ok(None) };
    if v.is_undefined() {
        return Ok(None);
    }
    match v.as_number() {
        Some(n) if n >= 0.0 && n <= u32::MAX as f64 => Ok((n > 0.0).then_some(n)),
        _ => Err(Thrown::type_error("`timeout` must be a 32-bit number")),
    }
}

/// Exports a value under the TransferOptions found in `options` (sandbox → elsewhere).
fn export_as<'js>(ctx: &Ctx<'js>, isolate: &Arc<Isolate>, value: Value<'js>, options: &Option<Object<'js>>) -> Result<Transfer, Thrown> {
    let (mode, _) = transfer_mode(options)?;
    transfer::export(ctx, isolate, value, mode, transfer::Fallback::Throw)
}

/// The one native entry point of the sandbox classes: `op(handle, name, spelling, ...args)`.
fn op<'js>(ctx: &Ctx<'js>, this: Value<'js>, name: &str, spelling: i32, args: &[Value<'js>]) -> Result<Value<'js>, Thrown> {
    let isolate = Isolate::current().ok_or_else(|| Thrown::plain("no isolate"))?;
    let class = Class::<Handle>::from_value(&this).map_err(|_| Thrown::type_error("Illegal invocation"))?;
    let (kind, transfer) = {
        let handle = class.borrow();
        let transfer = handle.transfer.borrow().clone();
        (handle.kind, transfer)
    };
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| Value::new_undefined(ctx.clone()));
    let undefined = || Value::new_undefined(ctx.clone());
    if name == "release" {
        // (A second release throws, as in isolated-vm.)
        if class.borrow().transfer.borrow_mut().take().is_none() {
            return Err(Thrown::plain(released_text(kind)));
        }
        return Ok(undefined());
    }
    let transfer = transfer.ok_or_else(|| Thrown::plain(released_text(kind)))?;
    match (kind, name) {
        (Kind::Reference, "typeof") => {
            let t = match &transfer {
                Transfer::Reference(h) | Transfer::Function(h) => h.type_of,
                Transfer::HostReference(r) | Transfer::HostFunction(r, _) => r.type_of,
                _ => "undefined",
            };
            rquickjs::String::from_str(ctx.clone(), t).map(|s| s.into_value()).map_err(|e| Thrown::plain(e.to_string()))
        }
        (Kind::Reference, "deref") => {
            let options = options_object(Some(&arg(0)));
            let value = match &transfer {
                Transfer::Reference(h) | Transfer::Function(h) if Arc::ptr_eq(&h.isolate, &isolate) => isolate.state().handle_value(ctx, h.id)?,
                _ => return Err(Thrown::type_error("Cannot dereference this from current isolate")),
            };
            if flag(&options, "release") {
                *class.borrow().transfer.borrow_mut() = None;
            }
            Ok(value)
        }
        (Kind::Reference, "derefInto") => {
            let options = options_object(Some(&arg(0)));
            let marker = match &transfer {
                Transfer::Reference(h) | Transfer::Function(h) => Transfer::Deref(h.clone()),
                Transfer::HostReference(r) | Transfer::HostFunction(r, _) => Transfer::HostDeref(r.clone()),
                _ => return Err(Thrown::plain(text::REFERENCE_RELEASED)),
            };
            let release = flag(&options, "release");
            if release {
                *class.borrow().transfer.borrow_mut() = None;
            }
            // (Markers are single-use, as isolated-vm's, with or without `release`.)
            wrap(ctx, Kind::DerefMarker, marker, true)
        }
        (Kind::Reference, _) => {
            let target = Target::of(&transfer).ok_or_else(|| Thrown::plain(text::REFERENCE_RELEASED))?;
            let prepared = match name {
                "get" => {
                    let (mode, promise) = transfer_mode(&options_object(Some(&arg(1))))?;
                    let options = options_object(Some(&arg(1)));
                    let key = property_key(&arg(0))?;
                    let inherit = matches!(&target, Target::Isolate(h) if h.inherit);
                    Prepared {
                        target,
                        op: Op::Get { key, inherit, accessors: flag(&options, "accessors") },
                        options: RunOptions { mode, promise, timeout_ms: timeout(&options)? },
                    }
                }
                "set" => {
                    let options = options_object(Some(&arg(2)));
                    let key = property_key(&arg(0))?;
                    let value = export_as(ctx, &isolate, arg(1), &options)?;
                    Prepared { target, op: Op::Set { key, value }, options: RunOptions::default() }
                }
                "delete" => {
                    let key = property_key(&arg(0))?;
                    Prepared { target, op: Op::Delete { key }, options: RunOptions::default() }
                }
                "apply" => {
                    let options = options_object(Some(&arg(2)));
                    let arg_options = options.as_ref().and_then(|o| o.get::<_, Value>("arguments").ok()).and_then(|v| v.as_object().cloned());
                    let result_options = options.as_ref().and_then(|o| o.get::<_, Value>("result").ok()).and_then(|v| v.as_object().cloned());
                    let this = match arg(0) {
                        v if v.is_undefined() || v.is_null() => Transfer::Undefined,
                        v => transfer::export(ctx, &isolate, v, Mode::Plain, transfer::Fallback::Throw)?,
                    };
                    let list = arg(1);
                    let list = if list.is_undefined() {
                        Vec::new()
                    } else {
                        let array = list.as_array().ok_or_else(|| Thrown::type_error("`undefined` requires parameter 2 to be an array"))?;
                        array.iter::<Value>().collect::<rquickjs::Result<Vec<_>>>().map_err(|e| Thrown::plain(e.to_string()))?
                    };
                    let args = list.into_iter().map(|v| export_as(ctx, &isolate, v, &arg_options)).collect::<Result<Vec<_>, _>>()?;
                    let (mode, promise) = transfer_mode(&result_options)?;
                    Prepared { target, op: Op::Apply { this, args }, options: RunOptions { mode, promise, timeout_ms: timeout(&options)? } }
                }
                "copy" => Prepared { target, op: Op::Copy, options: RunOptions { mode: Mode::Copy, ..Default::default() } },
                _ => return Err(Thrown::type_error(format!("Reference has no method {name}"))),
            };
            run_spelling(ctx, &isolate, prepared, spelling)
        }
        (Kind::ExternalCopy, "copy") => {
            let options = options_object(Some(&arg(0)));
            let value = match &transfer {
                Transfer::ExternalCopy(bytes) => transfer::import(ctx, &isolate, &Transfer::Copy(bytes.clone()))?,
                _ => undefined(),
            };
            if flag(&options, "release") {
                *class.borrow().transfer.borrow_mut() = None;
            }
            Ok(value)
        }
        (Kind::ExternalCopy, "copyInto") => {
            let options = options_object(Some(&arg(0)));
            let bytes = match &transfer {
                Transfer::ExternalCopy(bytes) => bytes.clone(),
                _ => return Err(Thrown::plain("Copy has been released")),
            };
            let release = flag(&options, "release");
            if release {
                *class.borrow().transfer.borrow_mut() = None;
            }
            wrap(ctx, Kind::CopyMarker, Transfer::Copy(bytes), true)
        }
        _ => Err(Thrown::type_error(format!("Illegal invocation of {name}"))),
    }
}

/// `new Reference(value)`, `new ExternalCopy(value, options)`, `new Callback(fn, options)`.
fn make<'js>(ctx: &Ctx<'js>, kind: &str, value: Value<'js>, options: Option<Object<'js>>) -> Result<Value<'js>, Thrown> {
    let isolate = Isolate::current().ok_or_else(|| Thrown::plain("no isolate"))?;
    match kind {
        "reference" => {
            let inherit = flag(&options, "unsafeInherit");
            wrap(ctx, Kind::Reference, Transfer::Reference(isolate.new_handle_with(ctx, value, inherit)), false)
        }
        "externalCopy" => {
            let options = &options;
            let bytes = v8_wire::write(ctx, &value).map_err(|e| clone_error(ctx, e))?;
            if let Some(list) = options.as_ref().and_then(|o| o.get::<_, Value>("transferList").ok()).filter(|v| !v.is_undefined()) {
                detach_all(ctx, &list)?;
            }
            if flag(options, "transferOut") {
                detach_all(ctx, &value)?;
            }
            wrap(ctx, Kind::ExternalCopy, Transfer::ExternalCopy(SharedBytes::external(bytes)), false)
        }
        "callback" => {
            if !value.is_function() {
                return Err(Thrown::type_error("`undefined` requires parameter 1 to be a function"));
            }
            wrap(ctx, Kind::Callback, Transfer::Function(isolate.new_handle(ctx, value)), false)
        }
        _ => Err(Thrown::type_error("unknown sandbox class")),
    }
}

/// Detaches the ArrayBuffers of a transfer list (or one buffer), as V8's transfer does.
fn detach_all<'js>(ctx: &Ctx<'js>, list: &Value<'js>) -> Result<(), Thrown> {
    let buffers: Vec<Value> = match list.as_array() {
        Some(array) => array.iter::<Value>().collect::<rquickjs::Result<_>>().map_err(|e| Thrown::plain(e.to_string()))?,
        None => vec![list.clone()],
    };
    for buffer in buffers {
        if v8_wire::class_id(&buffer) == v8_wire::class::ARRAY_BUFFER {
            // SAFETY: detaching a live ArrayBuffer of this context.
            unsafe { rquickjs::qjs::JS_DetachArrayBuffer(ctx.as_raw().as_ptr(), buffer.as_raw()) };
        } else {
            return Err(Thrown::type_error("`transferList` may only contain ArrayBuffers"));
        }
    }
    Ok(())
}

/// Throws `thrown` in the isolate whose code is running.
fn throw_here(ctx: &Ctx, thrown: Thrown) -> rquickjs::Error {
    let isolate = Isolate::current().expect("sandbox hook called outside its isolate");
    transfer::throw(ctx, &isolate, thrown)
}

/// `Function::new`, with the calling context's `Function.prototype`. rquickjs gives every Rust
/// function of a runtime the prototype of the first context that made one, which would hand code
/// in one context the `Function` constructor, and so the globals, of another.
pub fn native_function<'js, P, F: rquickjs::function::IntoJsFunc<'js, P> + 'js>(ctx: &Ctx<'js>, f: F) -> rquickjs::Result<Function<'js>> {
    let function = Function::new(ctx.clone(), f)?;
    if let Some(object) = function.as_object() {
        object.set_prototype(Some(&Function::prototype(ctx.clone())))?;
    }
    Ok(function)
}

/// The native hooks handed to the prelude of each context.
pub fn hooks<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let hooks = Object::new(ctx.clone())?;
    hooks.set(
        "op",
        native_function(ctx, |ctx: Ctx<'js>, this: Value<'js>, name: String, spelling: i32, args: Rest<Value<'js>>| {
            op(&ctx, this, &name, spelling, &args.0).map_err(|thrown| throw_here(&ctx, thrown))
        })?,
    )?;
    hooks.set(
        "make",
        native_function(ctx, |ctx: Ctx<'js>, kind: String, value: Value<'js>, options: Value<'js>| {
            make(&ctx, &kind, value, options.as_object().cloned()).map_err(|thrown| throw_here(&ctx, thrown))
        })?,
    )?;
    hooks.set(
        "totalExternalSize",
        native_function(ctx, || SharedBytes::total_external() as f64)?,
    )?;
    Ok(hooks)
}

/// A property key for get/set/delete: a string or a number (the rest of isolated-vm's rule,
/// uint32 only, is checked where the operation runs, for the host's calls too).
fn property_key(value: &Value<'_>) -> Result<Transfer, Thrown> {
    if let Some(s) = value.as_string() {
        return s.to_string().map(Transfer::String).map_err(|_| Thrown::type_error("Invalid `key`"));
    }
    value.as_number().map(Transfer::Number).ok_or_else(|| Thrown::type_error("Invalid `key`"))
}
