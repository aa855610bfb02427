//! The Node side of the thread protocol: one `NodeHost` per Node environment (main thread or
//! worker), which runs host functions for isolates and settles the promises of async calls.
//!
//! Requests from isolate threads land in one queue. The Node thread serves them from its event
//! loop, woken through one shared threadsafe function (napi's per-promise and tokio machinery
//! measured 5–30× slower), or from inside a synchronous wait, where it serves only the calls an
//! isolate is blocked on.

use std::cell::{RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, Thread, ThreadId};

use napi::sys;

use crate::engine::errors::Thrown;
use crate::engine::fast_map::FastMap;
use crate::engine::state::PENDING_IDS;
use crate::engine::host::{CallMode, Host, HostCall, HostRequest, HostResult};
use crate::engine::isolate::set_thread_host;
use crate::engine::transfer::{Mode, SharedBytes, Transfer};
use crate::engine::wait::{spin_for, Slot};

/// How long the Node thread waits for an isolate's next request after answering one.
const LINGER: std::time::Duration = std::time::Duration::from_micros(40);

use super::convert;
use super::napi_ok;

thread_local! {
    static NODE_HOST: RefCell<Option<Arc<NodeHost>>> = const { RefCell::new(None) };
}

/// The host of the current Node environment.
pub fn current() -> napi::Result<Arc<NodeHost>> {
    NODE_HOST
        .with(|h| h.borrow().clone())
        .ok_or_else(|| napi::Error::from_reason("isolated-quickjs is not initialised in this environment"))
}

/// State only the Node thread touches.
struct NodeOnly {
    env: sys::napi_env,
    helpers: sys::napi_ref,
    /// The helpers' functions, each looked up on first use (keyed by the address of its name: the
    /// names are literals).
    helper_functions: Vec<(usize, sys::napi_ref)>,
    /// Host values held for isolates (References, Callbacks), by id; a primitive is held boxed
    /// in a one-element array (`true`), since Node-API only references objects before napi 10.
    values: FastMap<u64, (sys::napi_ref, bool)>,
    next_value: u64,
    /// `applySyncPromise` calls waiting for their promise: where the answer goes, and how.
    awaiting: FastMap<u64, (Arc<Slot<HostResult>>, Mode)>,
    next_awaiting: u64,
    deferreds: FastMap<u64, sys::napi_deferred>,
    /// Outcomes of `Transfer::Pending` promises that arrived before their Promise was made.
    early: FastMap<u64, HostResult>,
    next_promise: u64,
    /// Counts requests served whose outcome only the event loop can carry on (a promise settled
    /// or awaited): spinning for more work is pointless until JS runs again.
    loop_work: u64,
}

pub struct NodeHost {
    thread: ThreadId,
    node_thread: Thread,
    /// Requests for the Node thread; `None` once the environment is shutting down (a terminated
    /// worker), after which nothing may touch the threadsafe function.
    inbox: Mutex<Option<VecDeque<HostRequest>>>,
    wake_scheduled: AtomicBool,
    /// Async operations in flight: while any is, the threadsafe function keeps the loop alive,
    /// and releases need no wake-up of their own (the settlement will serve them).
    in_flight: AtomicUsize,
    tsfn: sys::napi_threadsafe_function,
    node: UnsafeCell<NodeOnly>,
}

// SAFETY: `node` is only touched on the Node thread (every accessor checks `thread`), and
// `tsfn` is a threadsafe function, made to be called from any thread.
unsafe impl Send for NodeHost {}
unsafe impl Sync for NodeHost {}

impl NodeHost {
    /// Sets up the host of this environment; `helpers` is the JS object of conversion helpers.
    pub fn install(env: sys::napi_env, helpers: sys::napi_value) -> napi::Result<Arc<NodeHost>> {
        if let Ok(existing) = current() {
            return Ok(existing);
        }
        let mut helpers_ref = ptr::null_mut();
        let mut tsfn = ptr::null_mut();
        // SAFETY: plain Node-API calls on the Node thread with valid arguments.
        unsafe {
            napi_ok(env, sys::napi_create_reference(env, helpers, 1, &mut helpers_ref))?;
            let mut name = ptr::null_mut();
            napi_ok(env, sys::napi_create_string_utf8(env, c"isolated-quickjs".as_ptr(), 16, &mut name))?;
            napi_ok(
                env,
                sys::napi_create_threadsafe_function(
                    env,
                    ptr::null_mut(),
                    ptr::null_mut(),
                    name,
                    0,
                    1,
                    ptr::null_mut(),
                    None,
                    ptr::null_mut(),
                    Some(wake_callback),
                    &mut tsfn,
                ),
            )?;
            napi_ok(env, sys::napi_unref_threadsafe_function(env, tsfn))?;
        }
        let host = Arc::new(NodeHost {
            thread: thread::current().id(),
            node_thread: thread::current(),
            inbox: Mutex::new(Some(VecDeque::new())),
            wake_scheduled: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            tsfn,
            node: UnsafeCell::new(NodeOnly {
                env,
                helpers: helpers_ref,
                helper_functions: Vec::new(),
                values: FastMap::default(),
                next_value: 1,
                awaiting: FastMap::default(),
                next_awaiting: 1,
                deferreds: FastMap::default(),
                early: FastMap::default(),
                next_promise: 1,
                loop_work: 0,
            }),
        });
        NODE_HOST.with(|h| *h.borrow_mut() = Some(host.clone()));
        set_thread_host(host.clone());
        // Cleanup hooks run before Node frees the threadsafe function (they run in reverse order
        // of registration, and the function was made first): close the inbox there, so that an
        // isolate thread finishing late never calls a freed function.
        let hook_data = Arc::into_raw(host.clone()) as *mut std::ffi::c_void;
        // SAFETY: the hook gets back the Arc leaked here, exactly once.
        napi_ok(env, unsafe { sys::napi_add_env_cleanup_hook(env, Some(environment_closing), hook_data) })?;
        // Keep the host alive as long as the environment (the threadsafe function's context).
        Ok(host)
    }

    fn node(&self) -> &mut NodeOnly {
        assert_eq!(thread::current().id(), self.thread, "Node-only state touched off the Node thread");
        // SAFETY: only the Node thread gets here (asserted), and no caller keeps the reference
        // across a call into JS that could re-enter.
        unsafe { &mut *self.node.get() }
    }

    pub fn env(&self) -> sys::napi_env {
        self.node().env
    }

    /// The helpers object from `index.js`.
    pub fn helpers(&self) -> napi::Result<sys::napi_value> {
        let node = self.node();
        let mut value = ptr::null_mut();
        // SAFETY: the reference is alive for the environment's lifetime.
        napi_ok(node.env, unsafe { sys::napi_get_reference_value(node.env, node.helpers, &mut value) })?;
        Ok(value)
    }

    /// The helper function `name` and its object (`this` for the call).
    pub fn helper(&self, name: &'static std::ffi::CStr) -> napi::Result<(sys::napi_value, sys::napi_value)> {
        let helpers = self.helpers()?;
        let node = self.node();
        let key = name.as_ptr() as usize;
        let mut function = ptr::null_mut();
        // SAFETY: plain Node-API calls on the Node thread; references live as long as the host.
        unsafe {
            if let Some((_, reference)) = node.helper_functions.iter().find(|(k, _)| *k == key) {
                napi_ok(node.env, sys::napi_get_reference_value(node.env, *reference, &mut function))?;
                return Ok((helpers, function));
            }
            napi_ok(node.env, sys::napi_get_named_property(node.env, helpers, name.as_ptr(), &mut function))?;
            let mut reference = ptr::null_mut();
            napi_ok(node.env, sys::napi_create_reference(node.env, function, 1, &mut reference))?;
            node.helper_functions.push((key, reference));
        }
        Ok((helpers, function))
    }

    /// Keeps a host value for an isolate (`is_object`: an object or a function, which Node-API
    /// can reference as it is); returns its id.
    pub fn keep(&self, value: sys::napi_value, is_object: bool) -> napi::Result<u64> {
        let node = self.node();
        let env = node.env;
        let mut reference = ptr::null_mut();
        let boxed = !is_object;
        // SAFETY: `value` is a live value of this environment; the box is a fresh array.
        unsafe {
            let held = if boxed {
                let mut array = ptr::null_mut();
                napi_ok(env, sys::napi_create_array_with_length(env, 1, &mut array))?;
                napi_ok(env, sys::napi_set_element(env, array, 0, value))?;
                array
            } else {
                value
            };
            napi_ok(env, sys::napi_create_reference(env, held, 1, &mut reference))?;
        }
        let id = node.next_value;
        node.next_value += 1;
        node.values.insert(id, (reference, boxed));
        Ok(id)
    }

    pub fn value(&self, id: u64) -> napi::Result<sys::napi_value> {
        let node = self.node();
        let (reference, boxed) = *node.values.get(&id).ok_or_else(|| napi::Error::from_reason("Reference has been released"))?;
        let mut value = ptr::null_mut();
        // SAFETY: the reference is alive until released below; a box holds its value at 0.
        unsafe {
            napi_ok(node.env, sys::napi_get_reference_value(node.env, reference, &mut value))?;
            if boxed {
                let mut inner = ptr::null_mut();
                napi_ok(node.env, sys::napi_get_element(node.env, value, 0, &mut inner))?;
                value = inner;
            }
        }
        Ok(value)
    }

    /// Creates a promise for an async operation; returns (id, promise).
    pub fn new_promise(&self) -> napi::Result<(u64, sys::napi_value)> {
        let node = self.node();
        let id = node.next_promise;
        node.next_promise += 1;
        Ok((id, self.promise_for(id)?))
    }

    /// A promise settled by `settle(id, …)`.
    fn promise_for(&self, id: u64) -> napi::Result<sys::napi_value> {
        let node = self.node();
        let mut deferred = ptr::null_mut();
        let mut promise = ptr::null_mut();
        // SAFETY: standard promise creation on the Node thread.
        napi_ok(node.env, unsafe { sys::napi_create_promise(node.env, &mut deferred, &mut promise) })?;
        node.deferreds.insert(id, deferred);
        self.hold_loop(node.env);
        Ok(promise)
    }

    /// Keeps the event loop alive while results are due (an operation in flight, or a promise a
    /// synchronous call handed out: as in isolated-vm, the process waits for it).
    fn hold_loop(&self, env: sys::napi_env) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            // SAFETY: Node thread, with the environment's own env.
            unsafe { sys::napi_ref_threadsafe_function(env, self.tsfn) };
        }
    }

    /// The Promise of a synchronous call's `Transfer::Pending` result (see
    /// `IsolateState::settle_later`).
    pub fn pending_promise(&self, id: u64) -> napi::Result<sys::napi_value> {
        let promise = self.promise_for(id)?;
        if let Some(result) = self.node().early.remove(&id) {
            self.settle(id, result);
        }
        Ok(promise)
    }

    pub fn settle(&self, id: u64, result: HostResult) {
        let env = self.env();
        let Some(deferred) = self.node().deferreds.remove(&id) else {
            if id & PENDING_IDS != 0 {
                self.node().early.insert(id, result);
            }
            return;
        };
        let (value, ok) = match result {
            Ok(value) => match convert::to_js(env, &value) {
                Ok(v) => (v, true),
                Err(e) => (convert::napi_error_value(env, &e), false),
            },
            Err(thrown) => (convert::thrown_to_js(env, &thrown, true), false),
        };
        // SAFETY: the deferred is used exactly once.
        unsafe {
            if ok {
                sys::napi_resolve_deferred(env, deferred, value);
            } else {
                sys::napi_reject_deferred(env, deferred, value);
            }
        }
        self.node().loop_work += 1;
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: Node thread.
            unsafe { sys::napi_unref_threadsafe_function(env, self.tsfn) };
        }
    }

    /// Serves one request on the Node thread.
    fn serve(&self, request: HostRequest) {
        let env = self.env();
        let mut scope = ptr::null_mut();
        // SAFETY: a handle scope around each request keeps long drains from piling up handles.
        unsafe { sys::napi_open_handle_scope(env, &mut scope) };
        match request {
            HostRequest::Call { call, mode: CallMode::SyncPromise, reply: Some(reply) } => self.await_call(call, reply),
            HostRequest::Call { call, reply, .. } => {
                let result = self.call_now(call);
                if let Some(reply) = reply {
                    reply.fill(result);
                }
            }
            HostRequest::Settle { promise, result } => self.settle(promise, result),
            HostRequest::Release { id } => {
                if let Some((reference, _)) = self.node().values.remove(&id) {
                    // SAFETY: the reference is ours and released once.
                    unsafe { sys::napi_delete_reference(env, reference) };
                }
            }
        }
        // SAFETY: closes the scope opened above.
        unsafe { sys::napi_close_handle_scope(env, scope) };
    }

    /// `applySyncPromise`: calls the host function and answers when its promise settles (from
    /// the event loop, through `awaitHost` in index.js and `host_settled` here).
    fn await_call(&self, call: HostCall, reply: Arc<Slot<HostResult>>) {
        let env = self.env();
        let mode = call.result;
        match convert::perform_host_call(self, call, true) {
            Err(thrown) => reply.fill(Err(thrown)),
            Ok(Ok(transfer)) => reply.fill(Ok(transfer)),
            Ok(Err(value)) => {
                let node = self.node();
                let id = node.next_awaiting;
                node.next_awaiting += 1;
                node.awaiting.insert(id, (reply, mode));
                node.loop_work += 1;
                let awaited = (|| -> napi::Result<()> {
                    let id_value = convert::to_js(env, &Transfer::Number(id as f64))?;
                    // (Under these modes a marker's bytes are what the isolate gets.)
                    let copy_markers = convert::to_js(env, &Transfer::Bool(matches!(mode, Mode::Plain | Mode::Copy | Mode::CallbackResult)))?;
                    convert::helper(env, c"awaitHost", &[value, id_value, copy_markers])?;
                    Ok(())
                })();
                if let Err(e) = awaited {
                    if let Some((reply, _)) = self.node().awaiting.remove(&id) {
                        reply.fill(Err(Thrown::plain(e.reason)));
                    }
                }
            }
        }
    }

    /// The promise of an `applySyncPromise` call settled.
    pub fn host_settled(&self, id: u64, ok: bool, value: sys::napi_value) {
        let Some((reply, mode)) = self.node().awaiting.remove(&id) else { return };
        reply.fill(convert::export_settled(self.env(), value, ok, mode));
        self.linger();
    }

    /// The promise of an `applySyncPromise` call settled with a `copyInto()` marker's bytes
    /// (`awaitHost` passes them only under a mode that copies them).
    pub fn host_settled_with_copy(&self, id: u64, bytes: sys::napi_value) {
        let Some((reply, _)) = self.node().awaiting.remove(&id) else { return };
        let env = self.env();
        reply.fill(convert::buffer_bytes(env, bytes).map(|b| Transfer::Copy(SharedBytes::copy(b))).map_err(|e| convert::failure(env, e)));
        self.linger();
    }

    /// After answering an isolate, stays a moment for its next request: an agent program calls
    /// tools back to back, and each return to an idle event loop costs ~20 µs to wake from. It
    /// stops as soon as a request needs the event loop (a promise to settle or to await).
    fn linger(&self) {
        let before = self.loop_work();
        while self.loop_work() == before && spin_for(LINGER, || self.has_pending(), || false) {
            self.drain();
        }
    }

    /// See `NodeOnly::loop_work`: compare two readings to learn whether the event loop has work.
    pub fn loop_work(&self) -> u64 {
        self.node().loop_work
    }

    /// Serves the requests queued ahead that run no JS (releases, settlements), so that a result
    /// known now may be delivered now without overtaking them. False when a host call is queued
    /// ahead: then the result waits its turn in the queue.
    pub fn serve_quiet_front(&self) -> bool {
        loop {
            let next = {
                let mut inbox = self.inbox.lock().unwrap();
                let Some(queue) = inbox.as_mut() else { return true };
                match queue.front() {
                    Some(HostRequest::Settle { .. } | HostRequest::Release { .. }) => queue.pop_front(),
                    Some(HostRequest::Call { .. }) => return false,
                    None => return true,
                }
            };
            if let Some(request) = next {
                self.serve(request);
            }
        }
    }

    /// Settles a promise now if nothing queued must come first (see `serve_quiet_front`), else
    /// in its turn.
    pub fn settle_in_order(&self, id: u64, result: HostResult) {
        if self.serve_quiet_front() {
            self.settle(id, result);
        } else {
            self.post(HostRequest::Settle { promise: id, result });
        }
    }

    /// Whether requests are queued for the Node thread.
    pub fn has_pending(&self) -> bool {
        self.inbox.lock().unwrap().as_ref().is_some_and(|q| !q.is_empty())
    }

    fn pop(&self, sync_only: bool) -> Option<HostRequest> {
        let mut inbox = self.inbox.lock().unwrap();
        let queue = inbox.as_mut()?;
        let index = if sync_only { queue.iter().position(|r| r.is_sync())? } else { 0 };
        queue.remove(index)
    }

    fn drain(&self) {
        self.wake_scheduled.store(false, Ordering::Release);
        while let Some(request) = self.pop(false) {
            self.serve(request);
        }
    }

    /// The environment is going away: refuse new requests and answer the waiting ones.
    fn close(&self) {
        let pending = self.inbox.lock().unwrap().take().unwrap_or_default();
        for request in pending {
            refuse(request);
        }
        for (_, (reply, _)) in self.node().awaiting.drain() {
            reply.fill(Err(Thrown::plain(crate::engine::errors::text::DISPOSED_DURING)));
        }
    }
}

unsafe extern "C" fn environment_closing(data: *mut std::ffi::c_void) {
    // SAFETY: `data` is the Arc leaked in `install`.
    let host = unsafe { Arc::from_raw(data as *const NodeHost) };
    host.close();
    NODE_HOST.with(|h| *h.borrow_mut() = None);
}

unsafe extern "C" fn wake_callback(env: sys::napi_env, _js_callback: sys::napi_value, _context: *mut std::ffi::c_void, _data: *mut std::ffi::c_void) {
    if env.is_null() {
        return; // the environment is shutting down
    }
    if let Ok(host) = current() {
        host.drain();
        host.linger();
    }
}

/// Answers a request the host can no longer serve.
fn refuse(request: HostRequest) {
    if let HostRequest::Call { reply: Some(reply), .. } = request {
        reply.fill(Err(Thrown::plain(crate::engine::errors::text::DISPOSED_DURING)));
    }
}

impl Host for NodeHost {
    fn is_host_thread(&self) -> bool {
        thread::current().id() == self.thread
    }

    fn call_now(&self, call: HostCall) -> HostResult {
        match convert::perform_host_call(self, call, false) {
            Ok(Ok(transfer)) => Ok(transfer),
            Ok(Err(_)) => Err(Thrown::plain("unexpected raw result")),
            Err(thrown) => Err(thrown),
        }
    }

    fn post(&self, request: HostRequest) {
        let mut inbox = self.inbox.lock().unwrap();
        let Some(queue) = inbox.as_mut() else {
            drop(inbox);
            refuse(request);
            return;
        };
        // A release can wait while an async operation is in flight: its settlement serves the
        // queue anyway, and a wake-up of the event loop per release costs microseconds.
        // (A bounded number: an operation that never ends must not hold host values forever.)
        let can_wait = matches!(request, HostRequest::Release { .. }) && queue.len() < 64 && self.in_flight.load(Ordering::Acquire) > 0;
        queue.push_back(request);
        if can_wait {
            return;
        }
        // Wake the Node thread if it waits inside a sync call, and its event loop otherwise.
        self.node_thread.unpark();
        if !self.wake_scheduled.swap(true, Ordering::AcqRel) {
            // SAFETY: threadsafe functions may be called from any thread; the inbox lock keeps
            // `close` (which runs before the function is freed) from happening meanwhile.
            unsafe { sys::napi_call_threadsafe_function(self.tsfn, ptr::null_mut(), sys::ThreadsafeFunctionCallMode::nonblocking) };
        }
    }

    /// A terminated worker keeps its thread inside our call; Node then refuses every call that
    /// could run JS ("pending exception", or "cannot run JS", with no exception pending). That is
    /// the sign to stop the isolate running on this thread.
    fn is_ending(&self) -> bool {
        let env = self.env();
        let mut global = ptr::null_mut();
        let mut value = ptr::null_mut();
        let mut pending = false;
        // SAFETY: Node-API calls on the Node thread, inside the native call that runs the isolate.
        unsafe {
            if sys::napi_get_global(env, &mut global) != sys::Status::napi_ok {
                return false;
            }
            let status = sys::napi_get_named_property(env, global, c"undefined".as_ptr(), &mut value);
            sys::napi_is_exception_pending(env, &mut pending);
            (status == sys::Status::napi_pending_exception || status == sys::Status::napi_cannot_run_js) && !pending
        }
    }

    fn serve_one(&self) -> bool {
        match self.pop(true) {
            Some(request) => {
                self.serve(request);
                true
            }
            None => false,
        }
    }
}
