//! What an isolate owns on its thread: the QuickJS runtime, its contexts, the values held for
//! References, compiled scripts, and the operations of the API that run code.
//!
//! Everything here runs under the isolate's ownership lock (`Isolate`), on whichever thread
//! holds it. Tables use `RefCell` and are never borrowed across a call into JS, because JS
//! may re-enter the isolate (a host callback calling back in).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};


use rquickjs::{qjs, Context, Ctx, Persistent, Runtime, Value};

use super::code_cache;
use super::errors::{self, text, Thrown};
use super::host::HostRequest;
use super::fast_map::FastMap;
use super::isolate::Isolate;
use super::limits::{CountingAllocator, Limits, Stop, MAX_STACK};
use super::realm::{self, enter, NewContext};
use super::transfer::{self, Fallback, Mode, Transfer};

mod modules;

type Held = Persistent<Value<'static>>;

/// Promises rejected with no handler yet, with their reasons.
#[derive(Default)]
struct Rejections(Vec<(Held, Held)>);
// SAFETY: only touched from the rejection tracker and the isolate's operations, all of which
// run under the isolate's ownership lock.
unsafe impl Send for Rejections {}

/// A slot table with reusable ids.
pub struct Table<T> {
    slots: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { slots: Vec::new(), free: Vec::new() }
    }
}

impl<T> Table<T> {
    pub fn insert(&mut self, value: T) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(value);
                id
            }
            None => {
                self.slots.push(Some(value));
                (self.slots.len() - 1) as u32
            }
        }
    }

    pub fn get(&self, id: u32) -> Option<&T> {
        self.slots.get(id as usize).and_then(|s| s.as_ref())
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        self.slots.get_mut(id as usize).and_then(|s| s.as_mut())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }

    pub fn remove(&mut self, id: u32) -> Option<T> {
        let taken = self.slots.get_mut(id as usize).and_then(|s| s.take());
        if taken.is_some() {
            self.free.push(id);
        }
        taken
    }

    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Some entry, if there is one.
    pub fn any(&self) -> Option<&T> {
        self.slots.iter().flatten().next()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&mut self) {
        self.slots.clear();
        self.free.clear();
    }
}

/// Source code and where it claims to come from.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Source {
    pub code: String,
    pub filename: String,
    pub line_offset: i32,
    pub column_offset: i32,
}

/// How an operation that runs code transfers its result, and for how long it may run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    pub timeout_ms: Option<f64>,
    pub mode: Mode,
    pub promise: bool,
}

struct Script {
    bytecode: Arc<[u8]>,
    /// `produceCachedData`: the sealed bytecode (see `code_cache::seal`).
    cached_data: Option<Arc<[u8]>>,
}

/// Bounds the eval cache; when full it starts over (cheap, and V8's cache is bounded too).
const EVAL_CACHE_LIMIT: usize = 512;

pub struct IsolateState {
    // Field order is drop order: every QuickJS value goes before the runtime.
    handles: RefCell<Table<Held>>,
    /// Per context (by raw pointer), once needed: the prototypes of the sandbox classes.
    realms: RefCell<FastMap<usize, Held>>,
    /// Compiled code per (context id, key): scripts read into a context, evaluated sources.
    compiled: RefCell<HashMap<(u32, CodeKey), Held>>,
    scripts: RefCell<Table<Script>>,
    contexts: RefCell<Table<Context>>,
    /// A context of our own, for when no user context exists (see `any_context`).
    scratch: RefCell<Option<Context>>,
    /// Whether an ExternalCopy was ever held here (see `spare::discard`).
    held_external_copy: std::cell::Cell<bool>,
    /// Ids of the promises handed to the host by synchronous calls (`Transfer::Pending`) and not
    /// settled yet: rejected with `Promise was abandoned` if the isolate goes first.
    settlements: RefCell<FastMap<u64, ()>>,
    /// A user context made ahead of time, sandbox classes installed, for the first
    /// `createContext` (see `spare`).
    ready: RefCell<Option<Context>>,
    /// Modules compiled by `compileModule` (see `modules`), and the context they are compiled
    /// in, with how many it took.
    modules: RefCell<Table<modules::ModuleRecord>>,
    module_compiler: RefCell<Option<(Context, u32)>>,
    rejections: Arc<Mutex<Rejections>>,
    pub limits: Arc<Limits>,
    /// Known once a context exists (rquickjs exposes the pointer only through contexts).
    raw_runtime: std::cell::Cell<*mut qjs::JSRuntime>,
    pub runtime: Runtime,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum CodeKey {
    Script(u32),
    Eval(Source),
}

impl Drop for IsolateState {
    fn drop(&mut self) {
        self.clear();
    }
}

/// QuickJS bytecode of a compiled function object.
fn write_bytecode(ctx: &Ctx<'_>, function: &Value<'_>) -> Result<Arc<[u8]>, Thrown> {
    let mut len = 0usize;
    // SAFETY: writes the function's bytecode into a buffer that we copy and then free.
    unsafe {
        let ptr = qjs::JS_WriteObject(ctx.as_raw().as_ptr(), &mut len as *mut usize as _, function.as_raw(), qjs::JS_WRITE_OBJ_BYTECODE as i32);
        if ptr.is_null() {
            return Err(js_error(ctx));
        }
        let bytes = Arc::from(std::slice::from_raw_parts(ptr, len));
        qjs::js_free(ctx.as_raw().as_ptr(), ptr as _);
        Ok(bytes)
    }
}

/// The function object back from `write_bytecode`'s output.
fn read_bytecode<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> Result<Value<'js>, Thrown> {
    read_bytecode_with(ctx, bytecode, 0)
}

/// `read_bytecode` with more `JS_READ_OBJ_*` flags.
fn read_bytecode_with<'js>(ctx: &Ctx<'js>, bytecode: &[u8], flags: u32) -> Result<Value<'js>, Thrown> {
    // SAFETY: all bytecode read here was written by this process from a successful compile
    // (never taken from outside), so reading it back is sound.
    let flags = (qjs::JS_READ_OBJ_BYTECODE | flags) as i32;
    let raw = unsafe { qjs::JS_ReadObject(ctx.as_raw().as_ptr(), bytecode.as_ptr(), bytecode.len() as _, flags) };
    if unsafe { qjs::JS_VALUE_GET_TAG(raw) } == qjs::JS_TAG_EXCEPTION {
        return Err(js_error(ctx));
    }
    // SAFETY: we own the fresh value.
    Ok(unsafe { Value::from_raw(ctx.clone(), raw) })
}

fn js_error(ctx: &Ctx) -> Thrown {
    errors::capture(ctx, ctx.catch())
}

impl IsolateState {
    /// Creates the runtime on the calling thread.
    pub fn new(limits: Arc<Limits>) -> Result<IsolateState, String> {
        let runtime = Runtime::new_with_alloc(CountingAllocator { limits: limits.clone() }).map_err(|e| e.to_string())?;
        runtime.set_max_stack_size(MAX_STACK);
        let interrupt_limits = limits.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || interrupt_limits.should_stop())));
        let rejections: Arc<Mutex<Rejections>> = Arc::default();
        let tracked = rejections.clone();
        runtime.set_host_promise_rejection_tracker(Some(Box::new(move |ctx, promise, reason, handled| {
            let list = &mut tracked.lock().unwrap().0;
            if handled {
                list.retain(|(p, _)| !same_object(&p.clone().restore(&ctx).unwrap(), &promise));
            } else {
                list.push((Persistent::save(&ctx, promise), Persistent::save(&ctx, reason)));
            }
        })));
        Ok(IsolateState {
            raw_runtime: std::cell::Cell::new(std::ptr::null_mut()),
            handles: RefCell::default(),
            realms: RefCell::default(),
            compiled: RefCell::default(),
            scripts: RefCell::default(),
            contexts: RefCell::default(),
            scratch: RefCell::default(),
            held_external_copy: std::cell::Cell::new(false),
            settlements: RefCell::default(),
            ready: RefCell::new(None),
            modules: RefCell::default(),
            module_compiler: RefCell::new(None),
            rejections,
            limits,
            runtime,
        })
    }

    /// The raw runtime, or null while no context was ever made (then no code has run either).
    pub fn raw_runtime(&self) -> *mut qjs::JSRuntime {
        self.raw_runtime.get()
    }

    /// Records the runtime pointer from the first context.
    fn note_runtime(&self, context: &Context) {
        if self.raw_runtime.get().is_null() {
            let rt = context.get_runtime_ptr();
            self.raw_runtime.set(rt);
            modules::refuse_dynamic_import(rt);
        }
    }

    /// Some context of this runtime to enter, for work that belongs to none in particular
    /// (compiling a script, reaching a held value, which remembers its own context): a user
    /// context when there is one, else the one made ahead for the first `createContext` (code
    /// compiled in it leaves nothing behind), else one of our own, made on first need (~30 µs).
    fn any_context(&self) -> Context {
        if let Some(context) = self.contexts.borrow().any() {
            return context.clone();
        }
        if let Some(context) = self.ready.borrow().as_ref() {
            return context.clone();
        }
        self.scratch
            .borrow_mut()
            .get_or_insert_with(|| {
                let context = realm::compiler(&self.runtime).expect("QuickJS could not create a context");
                self.note_runtime(&context);
                context
            })
            .clone()
    }

    // -- contexts ----------------------------------------------------------------------------

    pub fn create_context(&self) -> Result<u32, Thrown> {
        let ready = self.ready.borrow_mut().take();
        let context = match ready {
            Some(context) => context,
            None => self.new_context()?,
        };
        Ok(self.contexts.borrow_mut().insert(context))
    }

    fn new_context(&self) -> Result<Context, Thrown> {
        let context = realm::create(&self.runtime).map_err(|e| Thrown::plain(e.to_string()))?;
        self.note_runtime(&context);
        Ok(context)
    }

    /// Whether the first `createContext` will get a context made ahead (a spare runtime's).
    pub fn has_ready_context(&self) -> bool {
        self.ready.borrow().is_some()
    }

    /// Makes the context the first `createContext` will get, with the sandbox classes in it
    /// (nearly every context of an agent run sees a Reference): on a spare runtime, off the
    /// caller's path, one step at a time (see `spare`). Returns true once the context is ready.
    pub fn prepare_step(&self, making: &mut Option<NewContext>) -> Result<bool, Thrown> {
        let failed = |e: rquickjs::Error| Thrown::plain(e.to_string());
        let Some(context) = making.as_mut() else {
            *making = Some(NewContext::begin(&self.runtime).map_err(failed)?);
            return Ok(false);
        };
        if !context.is_complete() {
            context.step().map_err(failed)?;
            return Ok(false);
        }
        // The sandbox classes are a step of their own (~22 µs, as much as the prelude before).
        let context = making.take().expect("a context being made").finish();
        self.note_runtime(&context);
        realm::aim_stack_check(&context);
        enter(&context, |ctx| self.prototypes(&ctx).map(drop))?;
        *self.ready.borrow_mut() = Some(context);
        Ok(true)
    }

    /// Lets go of every value, context and compiled script that we hold: the first step of
    /// freeing the runtime (see `spare`).
    pub fn clear(&self) {
        self.rejections.lock().unwrap().0.clear();
        self.handles.borrow_mut().clear();
        self.realms.borrow_mut().clear();
        self.compiled.borrow_mut().clear();
        self.contexts.borrow_mut().clear();
        self.ready.borrow_mut().take();
        self.scratch.borrow_mut().take();
        self.modules.borrow_mut().clear();
        self.module_compiler.borrow_mut().take();
    }

    /// Notes that an ExternalCopy is held here (its payload counts in `totalExternalSize`).
    pub fn note_external_copy(&self) {
        self.held_external_copy.set(true);
    }

    pub fn held_external_copy(&self) -> bool {
        self.held_external_copy.get()
    }

    pub fn release_context(&self, id: u32) {
        let removed = self.contexts.borrow_mut().remove(id);
        if let Some(context) = removed {
            self.forget_modules_of(id);
            self.compiled.borrow_mut().retain(|(c, _), _| *c != id);
            self.realms.borrow_mut().remove(&(context.as_raw().as_ptr() as usize));
        }
    }

    fn context(&self, id: u32) -> Result<Context, Thrown> {
        self.contexts.borrow().get(id).cloned().ok_or_else(|| Thrown::plain(text::CONTEXT_RELEASED))
    }

    /// A handle to the global object of context `id`.
    pub fn global(&self, isolate: &Arc<Isolate>, id: u32) -> Result<Transfer, Thrown> {
        let context = self.context(id)?;
        enter(&context, |ctx| Ok(Transfer::Reference(isolate.new_handle(&ctx, ctx.globals().into_value()))))
    }

    // -- handles -----------------------------------------------------------------------------

    pub fn hold<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>) -> u32 {
        self.handles.borrow_mut().insert(Persistent::save(ctx, value))
    }

    pub fn release_handle(&self, id: u32) {
        let removed = self.handles.borrow_mut().remove(id);
        drop(removed);
    }

    pub fn handle_value<'js>(&self, ctx: &Ctx<'js>, id: u32) -> Result<Value<'js>, Thrown> {
        let held = self.handles.borrow().get(id).cloned().ok_or_else(|| Thrown::plain(text::REFERENCE_RELEASED))?;
        held.restore(ctx).map_err(|e| Thrown::plain(e.to_string()))
    }

    /// Runs `f` with a held value and the context it belongs to.
    fn with_handle<R>(&self, id: u32, f: impl for<'js> FnOnce(Ctx<'js>, Value<'js>) -> Result<R, Thrown>) -> Result<R, Thrown> {
        enter(&self.any_context(), |entered| {
            let value = self.handle_value(&entered, id)?;
            let ctx = value.ctx().clone();
            f(ctx, value)
        })
    }

    /// The prototypes of the sandbox classes in the context of `ctx`, installed on first need.
    pub fn prototypes<'js>(&self, ctx: &Ctx<'js>) -> Result<rquickjs::Object<'js>, Thrown> {
        let key = ctx.as_raw().as_ptr() as usize;
        let held = self.realms.borrow().get(&key).cloned();
        if let Some(held) = held {
            let value = held.restore(ctx).map_err(|e| Thrown::plain(e.to_string()))?;
            return value.into_object().ok_or_else(|| Thrown::plain("sandbox classes"));
        }
        let prototypes = realm::install_classes(ctx).map_err(|_| js_error(ctx))?;
        self.realms.borrow_mut().insert(key, Persistent::save(ctx, prototypes.clone().into_value()));
        Ok(prototypes)
    }

    /// Settles a promise made inside the isolate (async spellings of sandbox operations), from
    /// the resolve/reject functions held under `resolve` and `reject`.
    pub fn settle_held(&self, isolate: &Arc<Isolate>, resolve: u32, reject: u32, outcome: Result<Transfer, Thrown>) {
        let _ = self.with_handle(resolve, |ctx, resolve_fn| {
            let reject_fn = self.handle_value(&ctx, reject)?;
            // (Between the host's calls, a rejection this leaves unhandled waits for the next.)
            self.guarded_with(&ctx, None, false, || {
                let (function, value) = match outcome.and_then(|t| transfer::import(&ctx, isolate, &t)) {
                    Ok(value) => (resolve_fn, value),
                    Err(Thrown::Error(info)) => (reject_fn, transfer::error_value(&ctx, &info)),
                    Err(Thrown::Value(t)) => (reject_fn, transfer::import(&ctx, isolate, &t).unwrap_or_else(|_| Value::new_undefined(ctx.clone()))),
                };
                let function = function.into_function().ok_or_else(|| Thrown::plain("settle"))?;
                function.call::<_, Value>((value,)).map(|_| ()).map_err(|_| js_error(&ctx))
            })
        });
        self.release_handle(resolve);
        self.release_handle(reject);
    }

    // -- running code ------------------------------------------------------------------------

    /// Runs `body` in `ctx` under the limits: the timeout covers the body and the microtasks it
    /// queues; an unhandled rejection left at the end is thrown; a stop (timeout, dispose,
    /// memory limit) becomes isolated-vm's error.
    fn guarded<'js, T>(&self, ctx: &Ctx<'js>, timeout_ms: Option<f64>, body: impl FnOnce() -> Result<T, Thrown>) -> Result<T, Thrown> {
        self.guarded_with(ctx, timeout_ms, true, body)
    }

    /// `guarded`; `report_rejections`: whether a rejection left unhandled ends this call (work the
    /// isolate does between the host's calls leaves it for the next one, as in isolated-vm).
    fn guarded_with<'js, T>(&self, ctx: &Ctx<'js>, timeout_ms: Option<f64>, report_rejections: bool, body: impl FnOnce() -> Result<T, Thrown>) -> Result<T, Thrown> {
        let saved = self.limits.deadline();
        if let Some(ms) = timeout_ms {
            let deadline = super::limits::now_ns().saturating_add((ms * 1e6) as u64);
            self.limits.set_deadline(deadline.min(saved));
        }
        let mut result = body();
        if result.is_ok() {
            if let Err(e) = self.drain_jobs() {
                result = Err(e);
            }
        }
        self.limits.set_deadline(saved);
        let stop = self.limits.take_stop();
        // (A dispose or the memory limit that came while the code ran counts even if the code
        // finished before QuickJS checked for it: code after a host callback that disposed its
        // isolate never runs in isolated-vm either.)
        let stop = if stop == Stop::None { self.limits.pending_stop() } else { stop };
        match stop {
            Stop::None => {}
            Stop::Timeout => {
                self.drop_pending_jobs();
                let thrown = match result {
                    Err(t) => t,
                    Ok(_) => Thrown::plain(""),
                };
                return Err(thrown.with_name_message("Error", text::TIMEOUT));
            }
            Stop::Disposed => {
                self.drop_pending_jobs();
                return Err(Thrown::plain(text::DISPOSED_DURING));
            }
            Stop::MemoryLimit => {
                self.drop_pending_jobs();
                return Err(Thrown::plain(text::MEMORY_LIMIT));
            }
        }
        let value = result?;
        if report_rejections {
            if let Some(reason) = self.take_unhandled_rejection(ctx) {
                return Err(reason);
            }
        }
        Ok(value)
    }

    /// Runs queued jobs (microtasks) until none is left.
    fn drain_jobs(&self) -> Result<(), Thrown> {
        let rt = self.raw_runtime();
        loop {
            let mut job_ctx: *mut qjs::JSContext = std::ptr::null_mut();
            // SAFETY: we own the runtime; QuickJS reports the job's context when it fails.
            let r = unsafe { qjs::JS_ExecutePendingJob(rt, &mut job_ctx) };
            if r == 0 {
                return Ok(());
            }
            if r < 0 {
                if job_ctx.is_null() {
                    return Err(Thrown::plain("a job failed"));
                }
                // SAFETY: the failing job's context is alive; Ctx takes its own reference.
                let ctx = unsafe { Ctx::from_raw(std::ptr::NonNull::new_unchecked(job_ctx)) };
                let thrown = js_error(&ctx);
                if self.limits.pending_stop() != Stop::None || self.limits.deadline() != u64::MAX {
                    return Err(thrown);
                }
                return Err(thrown);
            }
        }
    }

    /// Discards every queued job without running user code: with a one-byte stack budget each
    /// job fails at its first call, before any user code runs.
    fn drop_pending_jobs(&self) {
        let rt = self.raw_runtime();
        // SAFETY: we own the runtime; the stack limit is restored before returning.
        unsafe {
            qjs::JS_SetMaxStackSize(rt, 1);
            loop {
                let mut job_ctx: *mut qjs::JSContext = std::ptr::null_mut();
                let r = qjs::JS_ExecutePendingJob(rt, &mut job_ctx);
                if r == 0 {
                    break;
                }
                if r < 0 && !job_ctx.is_null() {
                    let exc = qjs::JS_GetException(job_ctx);
                    qjs::JS_FreeValue(job_ctx, exc);
                }
            }
            qjs::JS_SetMaxStackSize(rt, MAX_STACK as _);
        }
        self.rejections.lock().unwrap().0.clear();
        self.limits.take_stop();
    }

    fn take_unhandled_rejection(&self, ctx: &Ctx) -> Option<Thrown> {
        let first = {
            let list = &mut self.rejections.lock().unwrap().0;
            if list.is_empty() {
                return None;
            }
            let first = list.remove(0);
            list.clear();
            first
        };
        let reason = first.1.restore(ctx).ok()?;
        Some(errors::capture(ctx, reason))
    }

    /// Settles a promise result when `promise: true`: runs microtasks and, while the promise is
    /// still pending, the isolate's later queued work (async callbacks settle promises that way),
    /// then takes the outcome. The timeout and disposal still apply.
    ///
    /// A synchronous call cannot wait for what only the host can do: as in isolated-vm, it hands
    /// the host a Promise instead, when the promise is still pending or was rejected
    /// (`Settled::Later`; a fulfilled one is returned as its value, which the host wraps).
    fn settle<'js>(&self, isolate: &Arc<Isolate>, ctx: &Ctx<'js>, value: Value<'js>) -> Result<Settled<'js>, Thrown> {
        let Some(promise) = value.as_promise() else {
            return Ok(Settled::Now(value));
        };
        let sync = Isolate::current_is_sync() || isolate.host.is_host_thread();
        use rquickjs::promise::PromiseState;
        loop {
            self.drain_jobs()?;
            if promise.state() != PromiseState::Pending {
                break;
            }
            // A rejection nobody handled ends the run, as isolated-vm does (LLMz's wrapper,
            // `new Promise(async (resolve) => …)`, rejects its executor's promise this way).
            if let Some(reason) = self.take_unhandled_rejection(ctx) {
                return Err(reason);
            }
            if sync {
                // Nothing the host does can settle it while the host waits here, and the work
                // queued after this call runs after it, as in isolated-vm.
                break;
            }
            if isolate.run_next_task() {
                continue;
            }
            if self.limits.pending_stop() != Stop::None || self.deadline_passed() {
                // Let the interrupt handler report it: run a no-op job check once more.
                return Err(self.stopped_while_waiting());
            }
            isolate.wait_for_work(|| self.limits.pending_stop() != Stop::None || self.deadline_passed());
        }
        if sync && promise.state() != PromiseState::Resolved {
            return Ok(Settled::Later(promise.clone()));
        }
        match promise.state() {
            PromiseState::Resolved => Ok(Settled::Now(promise.result::<Value>().and_then(|r| r.ok()).unwrap_or_else(|| Value::new_undefined(ctx.clone())))),
            PromiseState::Rejected => {
                let reason = match promise.result::<Value>() {
                    Some(Err(rquickjs::Error::Exception)) => ctx.catch(),
                    Some(Ok(v)) => v,
                    _ => Value::new_undefined(ctx.clone()),
                };
                // We consumed the rejection: it is handled.
                self.forget_rejection(ctx, &value);
                Err(without_boundary(errors::capture(ctx, reason)))
            }
            PromiseState::Pending => Ok(Settled::Later(promise.clone())),
        }
    }

    /// The result of an operation under `options`: its value transferred, after `settle` when
    /// `promise: true`.
    fn settle_and_finish<'js>(&self, isolate: &Arc<Isolate>, ctx: &Ctx<'js>, value: Value<'js>, options: &RunOptions, fallback: Fallback) -> Result<Transfer, Thrown> {
        let value = if !options.promise {
            value
        } else {
            match self.settle(isolate, ctx, value)? {
                Settled::Now(value) => value,
                Settled::Later(promise) => return self.settle_later(ctx, promise, options.mode, fallback),
            }
        };
        self.finish(isolate, ctx, value, options, fallback)
    }

    /// Hands the host a Promise for `promise` (`Transfer::Pending`): reactions in the isolate
    /// transfer its outcome, as the call would have, when it settles; dropping the isolate first
    /// rejects it (`Isolate::drop_state`). The host keeps an outcome that arrives before it has
    /// made its Promise (`NodeHost::settle`).
    fn settle_later<'js>(&self, ctx: &Ctx<'js>, promise: rquickjs::Promise<'js>, mode: Mode, fallback: Fallback) -> Result<Transfer, Thrown> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let id = PENDING_IDS | NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let reaction = |fulfilled: bool| {
            super::sandbox::native_function(ctx, move |ctx: Ctx<'js>, value: Value<'js>| {
                let Some(isolate) = Isolate::current() else { return };
                let state = isolate.state();
                if state.settlements.borrow_mut().remove(&id).is_none() {
                    return;
                }
                let result = match fulfilled {
                    true => transfer::export(&ctx, &isolate, value, mode, fallback),
                    false => Err(without_boundary(errors::capture(&ctx, value))),
                };
                isolate.host.post(HostRequest::Settle { promise: id, result });
            })
        };
        let (on_fulfilled, on_rejected) = (reaction(true), reaction(false));
        let (Ok(on_fulfilled), Ok(on_rejected)) = (on_fulfilled, on_rejected) else { return Err(js_error(ctx)) };
        self.settlements.borrow_mut().insert(id, ());
        // QuickJS's own `then`, as V8's `Promise::Then` for isolated-vm: whatever the isolate's
        // code made of `Promise.prototype.then` is not consulted.
        // SAFETY: a live promise and functions of this context; the result is ours to free.
        let attached = unsafe {
            let raw = ctx.as_raw().as_ptr();
            let derived = qjs::JS_PromiseThen(raw, promise.as_raw(), on_fulfilled.as_raw(), on_rejected.as_raw());
            let ok = qjs::JS_VALUE_GET_TAG(derived) != qjs::JS_TAG_EXCEPTION;
            qjs::JS_FreeValue(raw, derived);
            ok
        };
        if !attached {
            self.settlements.borrow_mut().remove(&id);
            return Err(js_error(ctx));
        }
        // (A rejection is handled now; reactions to a settled promise run with the jobs.)
        self.forget_rejection(ctx, promise.as_value());
        self.drain_jobs()?;
        Ok(Transfer::Pending(id))
    }

    /// Takes `promise` off the unhandled rejections: its rejection is being delivered.
    fn forget_rejection(&self, ctx: &Ctx<'_>, promise: &Value<'_>) {
        self.rejections.lock().unwrap().0.retain(|(p, _)| !same_object(&p.clone().restore(ctx).unwrap(), promise));
    }

    /// The ids of the promises still owed to the host (see `settle_later`), for the isolate's end.
    pub fn take_settlements(&self) -> Vec<u64> {
        std::mem::take(&mut *self.settlements.borrow_mut()).into_keys().collect()
    }

    fn deadline_passed(&self) -> bool {
        let deadline = self.limits.deadline();
        deadline != u64::MAX && super::limits::now_ns() >= deadline
    }

    /// The error for a wait on a promise that ended because of a stop.
    fn stopped_while_waiting(&self) -> Thrown {
        match self.limits.pending_stop() {
            Stop::MemoryLimit => Thrown::plain(text::MEMORY_LIMIT),
            Stop::Disposed => Thrown::plain(text::DISPOSED_DURING),
            _ => Thrown::plain(text::TIMEOUT),
        }
    }

    fn finish<'js>(&self, isolate: &Arc<Isolate>, ctx: &Ctx<'js>, value: Value<'js>, options: &RunOptions, fallback: Fallback) -> Result<Transfer, Thrown> {
        transfer::export(ctx, isolate, value, options.mode, fallback)
    }

    /// Compiles `source` in `ctx` to a function object (QuickJS bytecode), without running it.
    fn compile<'js>(&self, ctx: &Ctx<'js>, source: &Source) -> Result<Value<'js>, Thrown> {
        self.compile_as(ctx, source, qjs::JS_EVAL_TYPE_GLOBAL)
    }

    /// `compile`, as a script (`JS_EVAL_TYPE_GLOBAL`) or a module (`JS_EVAL_TYPE_MODULE`).
    fn compile_as<'js>(&self, ctx: &Ctx<'js>, source: &Source, kind: u32) -> Result<Value<'js>, Thrown> {
        // V8 applies a column offset to the first line only; leading spaces do the same.
        let mut code = String::with_capacity(source.code.len() + source.column_offset.max(0) as usize);
        for _ in 0..source.column_offset.max(0) {
            code.push(' ');
        }
        code.push_str(&source.code);
        let filename = std::ffi::CString::new(source.filename.replace('\0', "")).unwrap_or_default();
        let options = qjs::JSEvalOptions {
            version: qjs::JS_EVAL_OPTIONS_VERSION as i32,
            eval_flags: (kind | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32,
            filename: filename.as_ptr(),
            line_num: 1 + source.line_offset,
        };
        // SAFETY: JS_Eval2 copies what it needs from `code` (with its length, so NULs are kept)
        // and from the options; the result is owned by the returned Value.
        let raw = unsafe {
            let mut bytes = code.into_bytes();
            bytes.push(0);
            qjs::JS_Eval2(ctx.as_raw().as_ptr(), bytes.as_ptr() as _, (bytes.len() - 1) as _, &options as *const _ as *mut _)
        };
        // SAFETY: checking the tag of a fresh value.
        if unsafe { qjs::JS_VALUE_GET_TAG(raw) } == qjs::JS_TAG_EXCEPTION {
            return Err(syntax_error(js_error(ctx), &source.filename));
        }
        // SAFETY: we own the fresh value.
        Ok(unsafe { Value::from_raw(ctx.clone(), raw) })
    }

    /// Runs a compiled function object.
    fn run_compiled<'js>(&self, ctx: &Ctx<'js>, function: &Value<'js>) -> Result<Value<'js>, Thrown> {
        // SAFETY: JS_EvalFunction consumes a reference, so hand it a fresh one.
        let raw = unsafe {
            let f = qjs::JS_DupValue(ctx.as_raw().as_ptr(), function.as_raw());
            qjs::JS_EvalFunction(ctx.as_raw().as_ptr(), f)
        };
        if unsafe { qjs::JS_VALUE_GET_TAG(raw) } == qjs::JS_TAG_EXCEPTION {
            return Err(js_error(ctx));
        }
        Ok(unsafe { Value::from_raw(ctx.clone(), raw) })
    }

    fn cached<'js>(&self, ctx: &Ctx<'js>, context_id: u32, key: CodeKey, make: impl FnOnce() -> Result<Value<'js>, Thrown>) -> Result<Value<'js>, Thrown> {
        if let Some(held) = self.compiled.borrow().get(&(context_id, key.clone())).cloned() {
            return held.restore(ctx).map_err(|e| Thrown::plain(e.to_string()));
        }
        let function = make()?;
        let mut compiled = self.compiled.borrow_mut();
        if compiled.len() >= EVAL_CACHE_LIMIT {
            compiled.retain(|(_, k), _| matches!(k, CodeKey::Script(_)));
        }
        compiled.insert((context_id, key), Persistent::save(ctx, function.clone()));
        Ok(function)
    }

    /// The function `source` compiles to in `ctx`: read from the process's code cache, or
    /// compiled here (and then kept there).
    fn compile_cached<'js>(&self, ctx: &Ctx<'js>, source: &Source) -> Result<Value<'js>, Thrown> {
        if let Some(bytecode) = code_cache::get(source) {
            return read_bytecode(ctx, &bytecode);
        }
        let function = self.compile(ctx, source)?;
        if let Ok(bytecode) = write_bytecode(ctx, &function) {
            code_cache::put(source, bytecode);
        }
        Ok(function)
    }

    pub fn compile_script(&self, source: &Source, produce_cached_data: bool) -> Result<u32, Thrown> {
        let bytecode = match code_cache::get(source) {
            Some(bytecode) => bytecode,
            None => {
                let bytecode = enter(&self.any_context(), |ctx| write_bytecode(&ctx, &self.compile(&ctx, source)?))?;
                code_cache::put(source, bytecode.clone());
                bytecode
            }
        };
        let cached_data = produce_cached_data.then(|| Arc::from(code_cache::seal(source, &bytecode)));
        Ok(self.scripts.borrow_mut().insert(Script { bytecode, cached_data }))
    }

    /// The cachedData a script was compiled to produce.
    pub fn script_cached_data(&self, id: u32) -> Option<Arc<[u8]>> {
        self.scripts.borrow().get(id).and_then(|s| s.cached_data.clone())
    }

    pub fn release_script(&self, id: u32) {
        if self.scripts.borrow_mut().remove(id).is_some() {
            self.compiled.borrow_mut().retain(|(_, k), _| *k != CodeKey::Script(id));
        }
    }

    pub fn run_script(&self, isolate: &Arc<Isolate>, script: u32, context_id: u32, options: &RunOptions) -> Result<Transfer, Thrown> {
        let bytecode = self.scripts.borrow().get(script).map(|s| s.bytecode.clone()).ok_or_else(|| Thrown::plain(text::SCRIPT_RELEASED))?;
        let context = self.context(context_id)?;
        enter(&context, |ctx| {
            let function = self.cached(&ctx, context_id, CodeKey::Script(script), || read_bytecode(&ctx, &bytecode))?;
            self.run_and_finish(isolate, &ctx, options, Fallback::Undefined, || self.run_compiled(&ctx, &function))
        })
    }

    pub fn eval(&self, isolate: &Arc<Isolate>, context_id: u32, source: &Source, options: &RunOptions) -> Result<Transfer, Thrown> {
        let context = self.context(context_id)?;
        enter(&context, |ctx| {
            let function = self.cached(&ctx, context_id, CodeKey::Eval(source.clone()), || self.compile_cached(&ctx, source))?;
            self.run_and_finish(isolate, &ctx, options, Fallback::Undefined, || self.run_compiled(&ctx, &function))
        })
    }

    /// `evalClosure`: `code` as a function body with the arguments as `$0`, `$1`, ….
    pub fn eval_closure(&self, isolate: &Arc<Isolate>, context_id: u32, source: &Source, args: &[Transfer], options: &RunOptions) -> Result<Transfer, Thrown> {
        let context = self.context(context_id)?;
        enter(&context, |ctx| {
            let params: Vec<String> = (0..args.len()).map(|i| format!("${i}")).collect();
            // The head on lines of its own, numbered -1 and 0 (QuickJS reads a first line of 0
            // as "not given"): the body's lines and columns are the caller's own, as in
            // isolated-vm (V8 compiles the body as a function).
            let wrapped = Source {
                code: format!("(function ({}) {{\n\n{}\n}})", params.join(", "), source.code),
                line_offset: source.line_offset - 2,
                ..source.clone()
            };
            let function = self.cached(&ctx, context_id, CodeKey::Eval(wrapped.clone()), || self.compile_cached(&ctx, &wrapped))?;
            let values = args.iter().map(|a| transfer::import(&ctx, isolate, a)).collect::<Result<Vec<_>, _>>()?;
            self.run_and_finish(isolate, &ctx, options, Fallback::Throw, || {
                let closure = self.run_compiled(&ctx, &function)?;
                let closure = closure.into_function().ok_or_else(|| Thrown::plain("evalClosure: not a function"))?;
                let mut call_args = rquickjs::function::Args::new(ctx.clone(), values.len());
                for v in values {
                    call_args.push_arg(v).map_err(|_| js_error(&ctx))?;
                }
                closure.call_arg(call_args).map_err(|_| js_error(&ctx))
            })
        })
    }

    fn run_and_finish<'js>(
        &self,
        isolate: &Arc<Isolate>,
        ctx: &Ctx<'js>,
        options: &RunOptions,
        fallback: Fallback,
        body: impl FnOnce() -> Result<Value<'js>, Thrown>,
    ) -> Result<Transfer, Thrown> {
        self.guarded(ctx, options.timeout_ms, || {
            let value = body()?;
            self.settle_and_finish(isolate, ctx, value, options, fallback)
        })
    }

    // -- references --------------------------------------------------------------------------

    /// `get`: own properties only (the prototype chain too with `inherit`); an accessor is
    /// refused unless `accessors` is set. As isolated-vm does, V8's quirks included.
    pub fn get(&self, isolate: &Arc<Isolate>, id: u32, key: &Transfer, options: &RunOptions, inherit: bool, accessors: bool) -> Result<Transfer, Thrown> {
        self.with_handle(id, |ctx, target| {
            let (object, key) = property_target(&ctx, &target, key)?;
            self.guarded(&ctx, options.timeout_ms, || {
                let mut holder = Some(object.clone());
                let found = loop {
                    let Some(current) = holder else { break false };
                    match own_property(&ctx, &current, &key)? {
                        OwnProperty::Missing => holder = if inherit { current.get_prototype() } else { None },
                        OwnProperty::Accessor if !accessors => return Err(Thrown::type_error("Property is getter")),
                        // V8 keeps an array's `length` as an accessor, and isolated-vm refuses it.
                        OwnProperty::Data if !accessors && is_array_length(&current, &key) => return Err(Thrown::type_error("Property is getter")),
                        _ => break true,
                    }
                };
                let value: Value = if found { object.get(key).map_err(|_| js_error(&ctx))? } else { Value::new_undefined(ctx.clone()) };
                self.settle_and_finish(isolate, &ctx, value, options, if inherit { Fallback::InheritingReference } else { Fallback::Reference })
            })
        })
    }

    /// `set`: deletes the key, then defines a plain data property, so no setter ever runs (as
    /// in isolated-vm); a refusal (a frozen object, a non-configurable key) is `Set failed`.
    pub fn set(&self, isolate: &Arc<Isolate>, id: u32, key: &Transfer, value: &Transfer) -> Result<bool, Thrown> {
        self.with_handle(id, |ctx, target| {
            let (object, key) = property_target(&ctx, &target, key)?;
            self.guarded(&ctx, None, || {
                with_atom(&ctx, &key, |raw, atom| {
                    // SAFETY: a live object and atom; JS_DefinePropertyValue consumes the value.
                    unsafe {
                        if qjs::JS_DeleteProperty(raw, object.as_raw(), atom, 0) < 0 {
                            return Err(js_error(&ctx));
                        }
                        let value = transfer::import(&ctx, isolate, value)?;
                        match qjs::JS_DefinePropertyValue(raw, object.as_raw(), atom, qjs::JS_DupValue(raw, value.as_raw()), qjs::JS_PROP_C_W_E as i32) {
                            r if r < 0 => Err(js_error(&ctx)),
                            0 => Err(Thrown::type_error("Set failed")),
                            _ => Ok(true),
                        }
                    }
                })
            })
        })
    }

    /// `delete`; a refusal (a non-configurable key) is `Delete failed`.
    pub fn delete(&self, id: u32, key: &Transfer) -> Result<bool, Thrown> {
        self.with_handle(id, |ctx, target| {
            let (object, key) = property_target(&ctx, &target, key)?;
            self.guarded(&ctx, None, || {
                // SAFETY: a live object and atom.
                with_atom(&ctx, &key, |raw, atom| match unsafe { qjs::JS_DeleteProperty(raw, object.as_raw(), atom, 0) } {
                    r if r < 0 => Err(js_error(&ctx)),
                    0 => Err(Thrown::type_error("Delete failed")),
                    _ => Ok(true),
                })
            })
        })
    }

    pub fn apply(&self, isolate: &Arc<Isolate>, id: u32, this: &Transfer, args: &[Transfer], options: &RunOptions) -> Result<Transfer, Thrown> {
        self.with_handle(id, |ctx, target| {
            let function = target.as_function().ok_or_else(|| Thrown::type_error("Reference is not a function"))?.clone();
            let this = transfer::import(&ctx, isolate, this)?;
            let values = args.iter().map(|a| transfer::import(&ctx, isolate, a)).collect::<Result<Vec<_>, _>>()?;
            self.run_and_finish(isolate, &ctx, options, Fallback::Reference, || {
                let mut call_args = rquickjs::function::Args::new(ctx.clone(), values.len());
                call_args.this(this).map_err(|_| js_error(&ctx))?;
                for v in values {
                    call_args.push_arg(v).map_err(|_| js_error(&ctx))?;
                }
                function.call_arg(call_args).map_err(|_| js_error(&ctx))
            })
        })
    }

    pub fn copy(&self, id: u32) -> Result<Transfer, Thrown> {
        self.with_handle(id, |ctx, value| transfer::export_copy(&ctx, &value).map_err(|e| transfer::clone_error(&ctx, e)))
    }

}

enum OwnProperty {
    Missing,
    Data,
    Accessor,
    Proxy,
}

/// isolated-vm's checks before a property operation: a string or uint32 key, and an object
/// (not a function) with no proxy on its prototype chain. Returns the object and the key.
fn property_target<'js>(ctx: &Ctx<'js>, target: &Value<'js>, key: &Transfer) -> Result<(rquickjs::Object<'js>, Value<'js>), Thrown> {
    let key = match key {
        Transfer::String(s) => rquickjs::String::from_str(ctx.clone(), s).map_err(|_| js_error(ctx))?.into_value(),
        Transfer::Number(n) if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(n) => Value::new_number(ctx.clone(), *n),
        _ => return Err(Thrown::type_error("Invalid `key`")),
    };
    let object = match target.as_object() {
        Some(object) if !target.is_function() => object.clone(),
        _ => return Err(Thrown::type_error("Reference is not an object")),
    };
    // Each link is checked before its prototype is asked for (a proxy's trap would run).
    let mut link = Some(object.clone());
    while let Some(current) = link {
        if super::v8_wire::class_id(current.as_value()) == super::v8_wire::class::PROXY {
            return Err(Thrown::type_error("Object is or has proxy"));
        }
        link = current.get_prototype();
    }
    Ok((object, key))
}

fn is_array_length(object: &rquickjs::Object<'_>, key: &Value<'_>) -> bool {
    object.is_array() && key.as_string().and_then(|s| s.to_string().ok()).is_some_and(|s| s == "length")
}

/// Runs `f` with `key` as an atom (freed afterwards).
fn with_atom<'js, R>(ctx: &Ctx<'js>, key: &Value<'js>, f: impl FnOnce(*mut qjs::JSContext, qjs::JSAtom) -> Result<R, Thrown>) -> Result<R, Thrown> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the atom made here is freed on every path.
    let atom = unsafe { qjs::JS_ValueToAtom(raw, key.as_raw()) };
    if atom == qjs::JS_ATOM_NULL {
        return Err(js_error(ctx));
    }
    let result = f(raw, atom);
    unsafe { qjs::JS_FreeAtom(raw, atom) };
    result
}

fn own_property<'js>(ctx: &Ctx<'js>, object: &rquickjs::Object<'js>, key: &Value<'js>) -> Result<OwnProperty, Thrown> {
    let raw = ctx.as_raw().as_ptr();
    if super::v8_wire::class_id(object.as_value()) == super::v8_wire::class::PROXY {
        return Ok(OwnProperty::Proxy);
    }
    // SAFETY: the atom and the descriptor's values are freed before returning.
    unsafe {
        let atom = qjs::JS_ValueToAtom(raw, key.as_raw());
        if atom == qjs::JS_ATOM_NULL {
            return Err(js_error(ctx));
        }
        let mut desc = std::mem::zeroed::<qjs::JSPropertyDescriptor>();
        let r = qjs::JS_GetOwnProperty(raw, &mut desc, object.as_raw(), atom);
        qjs::JS_FreeAtom(raw, atom);
        if r < 0 {
            return Err(js_error(ctx));
        }
        if r == 0 {
            return Ok(OwnProperty::Missing);
        }
        let accessor = desc.flags & qjs::JS_PROP_GETSET as i32 != 0;
        qjs::JS_FreeValue(raw, desc.value);
        qjs::JS_FreeValue(raw, desc.getter);
        qjs::JS_FreeValue(raw, desc.setter);
        Ok(if accessor { OwnProperty::Accessor } else { OwnProperty::Data })
    }
}

/// The outcome of `settle`: the value now, or a promise the host will be handed instead.
enum Settled<'js> {
    Now(Value<'js>),
    Later(rquickjs::Promise<'js>),
}

/// The ids of `Transfer::Pending` promises, apart from those the host numbers itself.
pub const PENDING_IDS: u64 = 1 << 62;

/// A rejection delivered through `promise: true` carries the isolate frames but no boundary
/// marker: the host call site is gone by the time it settles.
fn without_boundary(thrown: Thrown) -> Thrown {
    match thrown {
        Thrown::Error(mut info) => {
            info.boundary = false;
            Thrown::Error(info)
        }
        other => other,
    }
}

fn same_object(a: &Value, b: &Value) -> bool {
    // SAFETY: comparing pointers of live values.
    unsafe { a.is_object() && b.is_object() && qjs::JS_VALUE_GET_PTR(a.as_raw()) == qjs::JS_VALUE_GET_PTR(b.as_raw()) }
}

/// Compile errors carry their position in the message, as V8's do: `… [file:line:col]`.
fn syntax_error(thrown: Thrown, filename: &str) -> Thrown {
    let Thrown::Error(mut info) = thrown else { return thrown };
    let position = errors::frames_of(&info.stack)
        .lines()
        .next()
        .map(|l| l.trim_start().trim_start_matches("at ").to_string())
        .filter(|p| p.starts_with(filename));
    if let Some(position) = position {
        info.message = format!("{} [{}]", info.message, position);
    }
    // The error belongs to the compile call, not to code in the isolate: no isolate frames.
    info.stack = format!("{}: {}", info.name, info.message);
    Thrown::Error(info)
}
