//! An isolate, shared between threads: who may run it right now, how work reaches it, and its
//! lifecycle.
//!
//! One thread at a time *owns* an isolate and runs its code. A synchronous call from an idle
//! isolate's host runs right there on the calling thread (no hand-off: the cheapest path, and the
//! one isolated-vm takes too). Asynchronous work always goes to the isolate's own pooled thread,
//! attached on first use. When a synchronous call finds the isolate busy, it posts the work to
//! the owner and waits; every waiting thread keeps serving the synchronous requests addressed to
//! it (host callbacks on the Node thread, nested calls on an isolate's thread), which is what
//! lets sync calls nest in both directions without deadlock.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::thread::{self, Thread};

use rquickjs::{qjs, Ctx, Value};

use super::errors::{text, Thrown};
use super::host::{CallMode, Host, HostCall, HostRequest, HostResult};
use super::limits::{now_ns, Limits};
use super::state::IsolateState;
use super::transfer::{self, RefHandle, Transfer};
use super::wait::{spin_for, wait_spinning, wait_until, Slot};
use super::worker;

type Job = Box<dyn FnOnce(Option<&Arc<Isolate>>) + Send>;

/// How long an isolate's own thread spins for more work before it parks.
const WORKER_IDLE_SPIN: std::time::Duration = std::time::Duration::from_micros(200);
/// How long a caller waits for an owner that is letting go (see `own_soon`).
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_micros(20);

struct Task {
    /// Synchronous tasks may run inside a nested wait; asynchronous ones only in order, at the
    /// top of the owner's loop.
    sync: bool,
    /// Runs the task; `None` when the isolate was disposed before it could run.
    job: Job,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Isolates this thread is inside, innermost last, each with whether the host waits on it
    /// synchronously (then `applySyncPromise` could never settle).
    static ENTERED: RefCell<Vec<(Arc<Isolate>, bool)>> = const { RefCell::new(Vec::new()) };
    /// The host this thread serves while it waits (set on Node threads by the binding).
    static THREAD_HOST: RefCell<Option<Arc<dyn Host>>> = const { RefCell::new(None) };
    static TOKEN: Cell<u8> = const { Cell::new(0) };
    /// Set on isolate threads (the pool), for the CPU clock.
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

fn thread_token() -> usize {
    TOKEN.with(|t| t as *const Cell<u8> as usize)
}

/// Declares that the current thread serves `host` whenever it waits.
pub fn set_thread_host(host: Arc<dyn Host>) {
    THREAD_HOST.with(|h| *h.borrow_mut() = Some(host));
}

/// Does one piece of work addressed to the current thread, if any is waiting.
pub fn serve_current_thread() -> bool {
    let host = THREAD_HOST.with(|h| h.borrow().clone());
    if let Some(host) = host {
        if host.serve_one() {
            return true;
        }
    }
    let entered: Vec<Arc<Isolate>> = ENTERED.with(|e| e.borrow().iter().map(|(i, _)| i.clone()).collect());
    for isolate in entered.iter().rev() {
        if let Some(task) = isolate.pop_task(true) {
            isolate.run_task(task);
            return true;
        }
    }
    false
}

pub struct Isolate {
    pub id: u64,
    pub limits: Arc<Limits>,
    pub host: Arc<dyn Host>,
    me: Weak<Isolate>,
    /// Thread token of the owner, 0 when free.
    owner: AtomicUsize,
    /// Re-entrancy depth of the owner; touched only by the owner.
    depth: AtomicUsize,
    state: UnsafeCell<Option<IsolateState>>,
    inbox: Mutex<VecDeque<Task>>,
    queued: AtomicUsize,
    worker: Mutex<Option<Thread>>,
    /// The thread that owns the isolate right now, to wake it when work is posted.
    owner_thread: Mutex<Option<Thread>>,
    /// Token of the thread recorded in `owner_thread`, so re-entering from the same thread (the
    /// common case) skips the lock.
    owner_thread_token: AtomicUsize,
    /// Host-side handles (the Isolate object, References) still alive; at zero the isolate is
    /// disposed, so a forgotten isolate does not keep its thread and memory.
    host_handles: AtomicUsize,
    /// Nanoseconds spent running in this isolate: CPU of the running thread, and elapsed.
    cpu_ns: AtomicU64,
    wall_ns: AtomicU64,
    /// Clock readings when the outermost entry began (owner only): wall, and thread CPU on
    /// the isolate's own thread (0 elsewhere).
    entered_wall: AtomicU64,
    entered_cpu: AtomicU64,
    /// `ticks()` when the current outermost entry began.
    entered_ticks: AtomicU64,
    /// Ticks the current outermost entry has spent waiting on host calls: not CPU time of the
    /// isolate's (isolated-vm's `cpuTime` leaves host callbacks out; `wallTime` counts them).
    host_wait_ticks: AtomicU64,
    /// When the host call under way began (or resumed, after code it ran in this isolate), in
    /// ticks; 0 when none is.
    host_wait_since: AtomicU64,
    /// Set by the owner after its last queued task, while it finishes up before letting go:
    /// a caller that finds it so waits a moment for it instead of handing its work over.
    releasing: AtomicBool,
    disposed: AtomicBool,
}

// SAFETY: `state` is only touched by the thread that holds `owner` (see `own`), and the QuickJS
// runtime inside it is built with rquickjs's `parallel` feature, which makes it movable between
// threads; every entry re-targets QuickJS's stack check at the entering thread.
unsafe impl Sync for Isolate {}
unsafe impl Send for Isolate {}

impl Isolate {
    /// Creates an isolate: a spare runtime when one is ready, else one built right here.
    pub fn new(memory_limit: usize, host: Arc<dyn Host>) -> Result<Arc<Isolate>, String> {
        let state = match super::spare::take(memory_limit) {
            Some(state) => state,
            None => IsolateState::new(Limits::new(memory_limit))?,
        };
        let limits = state.limits.clone();
        let probe_host = host.clone();
        limits.set_probe(Box::new(move || probe_host.is_host_thread() && probe_host.is_ending()));
        Ok(Arc::new_cyclic(|me| Isolate {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            limits,
            host,
            me: me.clone(),
            owner: AtomicUsize::new(0),
            depth: AtomicUsize::new(0),
            state: UnsafeCell::new(Some(state)),
            inbox: Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            worker: Mutex::new(None),
            owner_thread: Mutex::new(None),
            owner_thread_token: AtomicUsize::new(0),
            host_handles: AtomicUsize::new(0),
            cpu_ns: AtomicU64::new(0),
            wall_ns: AtomicU64::new(0),
            entered_wall: AtomicU64::new(0),
            entered_cpu: AtomicU64::new(0),
            entered_ticks: AtomicU64::new(0),
            host_wait_ticks: AtomicU64::new(0),
            host_wait_since: AtomicU64::new(0),
            releasing: AtomicBool::new(false),
            disposed: AtomicBool::new(false),
        }))
    }

    /// The isolate whose code the current thread is running, innermost first.
    pub fn current() -> Option<Arc<Isolate>> {
        ENTERED.with(|e| e.borrow().last().map(|(i, _)| i.clone()))
    }

    /// Whether the innermost running call is one the host waits on synchronously.
    pub(crate) fn current_is_sync() -> bool {
        ENTERED.with(|e| e.borrow().last().map(|(_, sync)| *sync).unwrap_or(false))
    }

    pub fn is_disposed(&self) -> bool {
        self.disposed.load(Ordering::Acquire)
    }

    /// The state; only while this thread owns the isolate.
    pub fn state(&self) -> &IsolateState {
        debug_assert_eq!(self.owner.load(Ordering::Relaxed), thread_token());
        // SAFETY: callers run inside `execute`, under ownership, and the state is only taken
        // out (dropped) by the owner when its depth returns to zero.
        unsafe { (*self.state.get()).as_ref().expect("isolate state used after disposal") }
    }

    fn try_own(&self) -> bool {
        let me = thread_token();
        let owner = self.owner.load(Ordering::Acquire);
        if owner == me {
            self.depth.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        if owner == 0 && self.owner.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            self.depth.store(1, Ordering::Relaxed);
            // The thread CPU clock is a system call: read it only on the isolate's own thread,
            // where a hand-off costs far more anyway. A caller running the isolate inline is
            // busy for the whole call, so its elapsed time stands for CPU time there.
            let on_worker = IS_WORKER.with(|w| w.get());
            self.entered_cpu.store(if on_worker { super::limits::thread_cpu_ns() } else { 0 }, Ordering::Relaxed);
            self.host_wait_ticks.store(0, Ordering::Relaxed);
            self.entered_ticks.store(super::limits::ticks(), Ordering::Relaxed);
            self.entered_wall.store(now_ns(), Ordering::Relaxed);
            if self.owner_thread_token.load(Ordering::Relaxed) != me {
                *self.owner_thread.lock().unwrap() = Some(thread::current());
                self.owner_thread_token.store(me, Ordering::Relaxed);
            }
            // SAFETY: we own the isolate now; this moves QuickJS's stack check to our stack.
            if let Some(state) = unsafe { (*self.state.get()).as_ref() } {
                let rt = state.raw_runtime();
                if !rt.is_null() {
                    unsafe { qjs::JS_UpdateStackTop(rt) };
                }
            }
            return true;
        }
        false
    }

    /// `try_own`, or, when the owner is finishing up its last task (it has answered; it lets go
    /// within a microsecond or two), a short wait for it: cheaper than handing the work over.
    fn own_soon(&self) -> bool {
        if self.try_own() {
            return true;
        }
        self.releasing.load(Ordering::Acquire) && spin_for(RELEASE_WAIT, || self.try_own(), || false)
    }

    fn disown(&self) {
        if self.depth.fetch_sub(1, Ordering::Relaxed) != 1 {
            return;
        }
        let elapsed = now_ns().saturating_sub(self.entered_wall.load(Ordering::Relaxed));
        let host_wait = self.host_wait_share(elapsed, self.host_wait_ticks.swap(0, Ordering::Relaxed));
        // (An isolate thread's CPU clock stops while it sleeps waiting for the host; elapsed
        // time, standing for CPU time on the caller's thread, leaves the waits out here.)
        let cpu = if IS_WORKER.with(|w| w.get()) {
            super::limits::thread_cpu_ns().saturating_sub(self.entered_cpu.load(Ordering::Relaxed))
        } else {
            elapsed.saturating_sub(host_wait)
        };
        self.cpu_ns.fetch_add(cpu, Ordering::Relaxed);
        self.wall_ns.fetch_add(elapsed, Ordering::Relaxed);
        if self.is_disposed() {
            self.drop_state();
        }
        self.releasing.store(false, Ordering::Relaxed);
        self.owner.store(0, Ordering::Release);
        if self.queued.load(Ordering::Acquire) > 0 {
            self.wake_worker();
        }
    }

    /// Frees the runtime and everything in it; only by the owner at depth zero.
    fn drop_state(&self) {
        // SAFETY: we own the isolate and nothing of the state is borrowed at depth zero.
        if let Some(state) = unsafe { (*self.state.get()).take() } {
            // Promises that synchronous calls handed out and that will now never settle.
            for id in state.take_settlements() {
                self.host.post(HostRequest::Settle { promise: id, result: Err(Thrown::plain(text::ABANDONED)) });
            }
            super::spare::discard(state);
        }
        while let Some(task) = self.pop_task(false) {
            (task.job)(None);
        }
    }

    /// Runs `job` with the isolate entered on this thread.
    fn execute<R>(self: &Arc<Self>, sync: bool, job: impl FnOnce(&Arc<Isolate>) -> Result<R, Thrown>) -> Result<R, Thrown> {
        // SAFETY: read under ownership.
        if unsafe { (*self.state.get()).is_none() } {
            return Err(Thrown::plain(text::DISPOSED_DURING));
        }
        // A call nested inside a sync call is waited on synchronously too.
        let sync = sync || Self::current_is_sync();
        ENTERED.with(|e| e.borrow_mut().push((self.clone(), sync)));
        // Code a host callback runs back in here is the isolate's time, not the host's.
        let paused = self.host_wait_pause();
        let result = catch_unwind(AssertUnwindSafe(|| job(self)));
        self.host_wait_resume(paused);
        ENTERED.with(|e| e.borrow_mut().pop());
        let result = match result {
            Ok(r) => r,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown".into());
                // The engine's state may be inconsistent after a panic: retire the isolate.
                self.mark_disposed();
                Err(Thrown::plain(format!("Internal error in isolated-quickjs (the isolate was disposed): {what}")))
            }
        };
        if self.limits.out_of_memory() && !self.is_disposed() {
            self.mark_disposed();
            return Err(Thrown::plain(text::MEMORY_LIMIT));
        }
        result
    }

    fn mark_disposed(&self) {
        if !self.disposed.swap(true, Ordering::AcqRel) {
            self.limits.terminate();
            self.wake_worker();
        }
    }

    /// Runs `job` as part of queued (asynchronous) work, from inside a task of `run_async`.
    pub fn execute_async<R>(self: &Arc<Self>, job: impl FnOnce(&Arc<Isolate>) -> Result<R, Thrown>) -> Result<R, Thrown> {
        self.execute(false, job)
    }

    /// Runs the next queued task of this isolate right here, inside the current one: what a
    /// call waiting for a promise does, since only later work can settle it. False when none.
    pub fn run_next_task(self: &Arc<Self>) -> bool {
        match self.pop_task(false) {
            Some(task) => {
                self.run_task(task);
                true
            }
            None => false,
        }
    }

    /// Waits until work is queued for this isolate or `give_up()` says to stop waiting.
    pub fn wait_for_work(&self, mut give_up: impl FnMut() -> bool) {
        wait_until(|| self.queued.load(Ordering::Acquire) > 0 || give_up(), serve_current_thread);
    }

    /// Runs `job` now and returns its result, blocking the calling thread.
    pub fn run_sync<R: Send + 'static>(
        self: &Arc<Self>,
        job: impl FnOnce(&Arc<Isolate>) -> Result<R, Thrown> + Send + 'static,
    ) -> Result<R, Thrown> {
        if self.is_disposed() {
            return Err(Thrown::plain(text::DISPOSED_SYNC));
        }
        if self.own_soon() {
            let result = self.execute(true, job);
            self.disown();
            return result;
        }
        let slot = Slot::new();
        let reply = slot.clone();
        self.post(Task {
            sync: true,
            job: Box::new(move |isolate| {
                reply.fill(match isolate {
                    Some(isolate) => isolate.execute(true, job),
                    None => Err(Thrown::plain(text::DISPOSED_DURING)),
                })
            }),
        });
        wait_until(|| slot.is_ready(), serve_current_thread);
        slot.take()
    }

    /// Runs `job` right here if the isolate is idle and nothing is queued for it, for async work
    /// that runs no user code (so it is short, and cannot hang the caller): a hand-off would
    /// cost more than the work. Gives the job back otherwise.
    pub fn run_if_idle<R, J: FnOnce(&Arc<Isolate>) -> Result<R, Thrown>>(self: &Arc<Self>, job: J) -> Result<Result<R, Thrown>, J> {
        if self.is_disposed() || self.queued.load(Ordering::Acquire) > 0 || !self.own_soon() {
            return Err(job);
        }
        if self.depth.load(Ordering::Relaxed) > 1 || self.queued.load(Ordering::Acquire) > 0 {
            // Inside a call of this isolate already (a host callback), or work arrived: keep order.
            self.disown();
            return Err(job);
        }
        let result = self.execute(false, job);
        self.disown();
        Ok(result)
    }

    /// Queues `job` for the isolate's own thread; it receives `None` if the isolate is disposed
    /// first. Jobs run in the order they were queued.
    pub fn run_async(self: &Arc<Self>, job: impl FnOnce(Option<&Arc<Isolate>>) + Send + 'static) {
        if self.is_disposed() {
            job(None);
            return;
        }
        self.post(Task { sync: false, job: Box::new(job) });
        self.ensure_worker();
    }

    /// Runs a job with the result delivered through `done`, in the isolate's async order.
    pub fn run_async_with<R: Send + 'static>(
        self: &Arc<Self>,
        job: impl FnOnce(&Arc<Isolate>) -> Result<R, Thrown> + Send + 'static,
        done: impl FnOnce(Result<R, Thrown>) + Send + 'static,
    ) {
        self.run_async(move |isolate| match isolate {
            Some(isolate) => {
                let result = isolate.execute(false, job);
                // The owner's last task (outermost, nothing queued): it lets go right after this.
                if isolate.depth.load(Ordering::Relaxed) == 1 && isolate.queued.load(Ordering::Acquire) == 0 {
                    isolate.releasing.store(true, Ordering::Release);
                }
                done(result)
            }
            None => done(Err(Thrown::plain(text::DISPOSED_DURING))),
        });
    }

    fn post(&self, task: Task) {
        self.inbox.lock().unwrap().push_back(task);
        self.queued.fetch_add(1, Ordering::Release);
        // The owner (if it is some other waiting thread) serves sync tasks from its wait loop;
        // the worker needs a nudge in either case.
        self.wake_worker();
        if let Some(owner) = self.owner_thread.lock().unwrap().as_ref() {
            owner.unpark();
        }
    }

    fn pop_task(&self, sync_only: bool) -> Option<Task> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut inbox = self.inbox.lock().unwrap();
        let index = if sync_only { inbox.iter().position(|t| t.sync)? } else { 0 };
        let task = inbox.remove(index)?;
        self.queued.fetch_sub(1, Ordering::Release);
        Some(task)
    }

    fn run_task(self: &Arc<Self>, task: Task) {
        if self.is_disposed() && unsafe { (*self.state.get()).is_none() } {
            (task.job)(None);
        } else {
            (task.job)(Some(self));
        }
    }

    fn wake_worker(&self) {
        if let Some(worker) = self.worker.lock().unwrap().as_ref() {
            worker.unpark();
        }
    }

    fn ensure_worker(self: &Arc<Self>) {
        let mut worker = self.worker.lock().unwrap();
        if worker.is_some() {
            drop(worker);
            self.wake_worker();
            return;
        }
        // Placeholder until the pooled thread reports in; posts before that are picked up when
        // it starts.
        *worker = Some(thread::current());
        drop(worker);
        let isolate = self.clone();
        worker::run_on_pool(Box::new(move || isolate.worker_main()));
    }

    /// The loop of the isolate's own thread: run queued work in order until disposed.
    fn worker_main(self: Arc<Self>) {
        IS_WORKER.with(|w| w.set(true));
        *self.worker.lock().unwrap() = Some(thread::current());
        loop {
            // Async calls come in bursts with host work between them (an agent's setup): the
            // thread stays awake a while for the next one, since waking it costs 30-50 µs, and
            // takes steps of background work meanwhile (`spare::help`).
            wait_spinning(WORKER_IDLE_SPIN, || self.queued.load(Ordering::Acquire) > 0 || self.is_disposed(), super::spare::help);
            if self.is_disposed() && self.queued.load(Ordering::Acquire) == 0 {
                // Free the runtime here (see `dispose`), unless some other thread is inside it:
                // that one frees it when it leaves.
                if self.try_own() {
                    self.disown();
                }
                break;
            }
            wait_until(|| self.try_own(), || false);
            while let Some(task) = self.pop_task(false) {
                self.releasing.store(false, Ordering::Relaxed);
                self.run_task(task);
            }
            self.disown();
            if self.is_disposed() {
                // Make sure the state is gone even if nothing else owned the isolate since.
                if self.try_own() {
                    self.disown();
                }
                if unsafe { (*self.state.get()).is_none() } && self.queued.load(Ordering::Acquire) == 0 {
                    break;
                }
            }
        }
        *self.worker.lock().unwrap() = None;
    }

    /// `dispose()`: stops running code, frees the runtime as soon as no thread is inside it,
    /// and fails queued work.
    pub fn dispose(self: &Arc<Self>) -> Result<(), Thrown> {
        if self.disposed.swap(true, Ordering::AcqRel) {
            return Err(Thrown::plain("Isolate is already disposed"));
        }
        self.limits.terminate();
        // Freed at once when idle (by the spares thread: see `spare::discard`).
        if self.try_own() {
            self.disown();
        }
        // Wake whoever runs it, wherever it waits, so that it notices promptly.
        self.wake_worker();
        if let Some(owner) = self.owner_thread.lock().unwrap().as_ref() {
            owner.unpark();
        }
        Ok(())
    }

    pub fn retain_host_handle(&self) {
        self.host_handles.fetch_add(1, Ordering::AcqRel);
    }

    /// Drops one host-side handle; the last one disposes the isolate.
    pub fn release_host_handle(&self) {
        if self.host_handles.fetch_sub(1, Ordering::AcqRel) == 1 && !self.is_disposed() {
            if let Some(me) = self.me.upgrade() {
                let _ = me.dispose();
            }
        }
    }

    /// `isolate.cpuTime` and `isolate.wallTime`, in nanoseconds.
    pub fn times(&self) -> (u64, u64) {
        let (mut cpu, mut wall) = (self.cpu_ns.load(Ordering::Relaxed), self.wall_ns.load(Ordering::Relaxed));
        // While code runs, its time so far counts too (elapsed standing for CPU time: another
        // thread's CPU clock is not ours to read here), as isolated-vm's figures tick during a run.
        if self.owner.load(Ordering::Acquire) != 0 {
            let entered = self.entered_wall.load(Ordering::Relaxed);
            if entered != 0 {
                let elapsed = now_ns().saturating_sub(entered);
                wall += elapsed;
                let since = self.host_wait_since.load(Ordering::Relaxed);
                let waiting = if since != 0 { super::limits::ticks().saturating_sub(since) } else { 0 };
                cpu += elapsed.saturating_sub(self.host_wait_share(elapsed, self.host_wait_ticks.load(Ordering::Relaxed) + waiting));
            }
        }
        (cpu, wall)
    }

    /// Host-side handles alive (`isolate.referenceCount`).
    pub fn host_handle_count(&self) -> usize {
        self.host_handles.load(Ordering::Acquire)
    }

    // -- handles -----------------------------------------------------------------------------

    /// Holds `value` for a Reference; only while this thread is inside the isolate.
    pub fn new_handle<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>) -> Arc<RefHandle> {
        self.new_handle_with(ctx, value, false)
    }

    /// Holds `value` for a Reference; `inherit` is the constructor's `unsafeInherit`. (What keeps
    /// the isolate from being disposed automatically is the host's handles, counted where the
    /// host holds them, not these.)
    pub fn new_handle_with<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>, inherit: bool) -> Arc<RefHandle> {
        self.handle(ctx, value, inherit, None)
    }

    /// Holds a function for the callable the host gets, with its `name` and `length`.
    pub fn new_handle_signed<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>, signature: Option<(String, u32)>) -> Arc<RefHandle> {
        self.handle(ctx, value, false, signature)
    }

    fn handle<'js>(&self, ctx: &Ctx<'js>, value: Value<'js>, inherit: bool, signature: Option<(String, u32)>) -> Arc<RefHandle> {
        let type_of = transfer::type_of(&value);
        let id = self.state().hold(ctx, value);
        Arc::new(RefHandle { isolate: self.me.upgrade().expect("isolate alive"), id, type_of, inherit, signature })
    }

    /// Releases a held value, now if this thread may, otherwise in the isolate's queue.
    pub fn release_handle(&self, id: u32) {
        let Some(me) = self.me.upgrade() else { return };
        if self.is_disposed() {
            return;
        }
        if self.try_own() {
            if unsafe { (*self.state.get()).is_some() } {
                self.state().release_handle(id);
            }
            self.disown();
        } else {
            me.run_async(move |isolate| {
                if let Some(isolate) = isolate {
                    let _ = isolate.execute(false, |i| {
                        i.state().release_handle(id);
                        Ok(())
                    });
                }
            });
        }
    }

    // -- calling the host --------------------------------------------------------------------

    /// Performs an operation on a host value for code running in this isolate.
    pub fn call_host(self: &Arc<Self>, call: HostCall, mode: CallMode) -> Result<Transfer, Thrown> {
        match mode {
            CallMode::Ignored => {
                self.host.post(HostRequest::Call { call, mode, reply: None });
                return Ok(Transfer::Undefined);
            }
            CallMode::SyncPromise if self.host.is_host_thread() || Self::current_is_sync() => {
                return Err(Thrown::plain(text::SYNC_PROMISE_ON_DEFAULT_THREAD));
            }
            _ => {}
        }
        if self.host.is_host_thread() {
            let outer = self.host_wait_begin();
            let result = self.host.call_now(call);
            self.host_wait_end(outer);
            return result;
        }
        let posted = self.post_host_call(call, mode);
        self.await_host_reply(posted)
    }

    // (The host-wait clock is only ever moved by the isolate's owner: plain loads and stores;
    // `times()` reads it from other threads.)

    /// Starts timing a wait on the host (see `host_wait_ticks`); returns what to restore after.
    fn host_wait_begin(&self) -> u64 {
        let outer = self.host_wait_since.load(Ordering::Relaxed);
        self.host_wait_since.store(super::limits::ticks(), Ordering::Relaxed);
        outer
    }

    fn host_wait_end(&self, outer: u64) {
        self.add_host_wait(self.host_wait_since.load(Ordering::Relaxed));
        self.host_wait_since.store(outer, Ordering::Relaxed);
    }

    /// Stops the host-wait clock while code runs in the isolate again; returns whether it ran.
    fn host_wait_pause(&self) -> bool {
        let since = self.host_wait_since.load(Ordering::Relaxed);
        if since != 0 {
            self.add_host_wait(since);
            self.host_wait_since.store(0, Ordering::Relaxed);
        }
        since != 0
    }

    fn add_host_wait(&self, since: u64) {
        if since != 0 {
            let waited = super::limits::ticks().saturating_sub(since);
            self.host_wait_ticks.store(self.host_wait_ticks.load(Ordering::Relaxed) + waited, Ordering::Relaxed);
        }
    }

    fn host_wait_resume(&self, paused: bool) {
        if paused {
            self.host_wait_since.store(super::limits::ticks(), Ordering::Relaxed);
        }
    }

    /// The nanoseconds of `elapsed` (the current entry's, so far) spent waiting on the host: the
    /// share of its ticks that `wait_ticks` are.
    fn host_wait_share(&self, elapsed: u64, wait_ticks: u64) -> u64 {
        let total = super::limits::ticks().saturating_sub(self.entered_ticks.load(Ordering::Relaxed));
        if total == 0 {
            return 0;
        }
        (elapsed as u128 * wait_ticks.min(total) as u128 / total as u128) as u64
    }

    /// Hands a call to the host (from a thread other than the host's); its answer comes back
    /// to `await_host_reply`.
    pub fn post_host_call(&self, call: HostCall, mode: CallMode) -> PostedCall {
        let slot = Slot::new();
        self.host.post(HostRequest::Call { call, mode, reply: Some(slot.clone()) });
        PostedCall { slot, posted: now_ns() }
    }

    /// Waits for the host's answer to a posted call, on the thread that posted it.
    pub fn await_host_reply(&self, call: PostedCall) -> Result<Transfer, Thrown> {
        let PostedCall { slot, posted } = call;
        let outer = self.host_wait_begin();
        // dispose() ends the wait at once (the host's answer, if it ever comes, is dropped).
        wait_until(|| slot.is_ready() || self.limits.terminated(), serve_current_thread);
        // Time spent waiting on the host counts neither against the timeout nor as CPU time
        // (but what the host runs in this isolate meanwhile does, see `execute`).
        self.host_wait_end(outer);
        self.limits.extend_deadline(now_ns().saturating_sub(posted));
        if !slot.is_ready() {
            return Err(Thrown::plain(text::DISPOSED_DURING));
        }
        slot.take()
    }
}

/// A call handed to the host, whose answer is still to come.
pub struct PostedCall {
    slot: Arc<Slot<HostResult>>,
    /// When it was posted (`now_ns`): waiting for the host does not count against the timeout.
    posted: u64,
}

impl PostedCall {
    /// For an answer awaited on another thread than the one that posted the call: the answer
    /// wakes this one.
    pub fn awaited_here(self) -> PostedCall {
        self.slot.wait_here();
        self
    }
}

impl Drop for Isolate {
    fn drop(&mut self) {
        // Last reference gone: nobody can own it any more, so its runtime can go.
        self.disposed.store(true, Ordering::Release);
        if let Some(state) = self.state.get_mut().take() {
            super::spare::discard(state);
        }
    }
}

