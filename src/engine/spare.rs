//! Spare runtimes: QuickJS runtimes built ahead of time, each with the context its first
//! `createContext` will get, so that making an isolate and its context costs a hand-over instead
//! of ~80 µs of QuickJS setup on the caller's path.
//!
//! One background thread keeps `KEEP` spares ready, refilling when a disposed isolate's runtime
//! comes back to be freed (or after a take found none). A spare has run no code and holds no
//! host value: it is what `IsolateState::new` plus `createContext` would make, built earlier and
//! unlimited; the taker sets its memory limit. When none is ready (the first isolate of a
//! process, or a burst), the caller builds its own.
//!
//! The same thread frees the runtimes of disposed isolates (`discard`): freeing one costs about
//! as much as building one, and done by the disposing thread while this one builds, both fight
//! over the same malloc arena (measured: dispose 18 → 118 µs).
//!
//! When isolates are made faster than spares can be built (a tight create/dispose loop), a
//! background thread only competes with the caller for the cores and the allocator (measured:
//! create+dispose 101 → 140 µs). So a take that finds no spare pauses the thread for `COOL_OFF_NS`:
//! meanwhile callers build and free their own, as without spares.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};

use super::limits::{now_ns, Limits};
use super::state::IsolateState;

/// Spares kept ready. An agent host makes one isolate per run, a few at once at most; each
/// spare holds ~200 KiB.
const KEEP: usize = 2;

/// A spare runtime. It is touched only by the thread holding it: the builder, then the pool's
/// lock, then the isolate that takes it.
struct Spare(IsolateState);

// SAFETY: rquickjs's `parallel` feature makes the runtime movable between threads, and a spare
// has exactly one holder at a time (see above).
unsafe impl Send for Spare {}

/// Runtimes of disposed isolates waiting to be freed; past this many, the disposing thread
/// frees its own (the spares thread is not keeping up, and memory must not pile up).
const MAX_DISCARDED: usize = 8;

/// How long the spares thread rests after a take found no spare (see above).
const COOL_OFF_NS: u64 = 2_000_000;

/// When a take last found no spare (`now_ns`), 0 for never.
static LAST_MISS: AtomicU64 = AtomicU64::new(0);

static READY: Mutex<Vec<Spare>> = Mutex::new(Vec::new());
static DISCARDED: Mutex<Vec<Spare>> = Mutex::new(Vec::new());
static BUILDER: OnceLock<Thread> = OnceLock::new();

/// A spare runtime with `memory_limit`, if one is ready.
pub fn take(memory_limit: usize) -> Option<IsolateState> {
    let spare = READY.lock().unwrap().pop();
    let Some(Spare(state)) = spare else {
        LAST_MISS.store(now_ns().max(1), Ordering::Relaxed);
        builder().unpark();
        return None;
    };
    // The refill waits for the next discard (`dispose`): an agent disposes its isolate at the end
    // of a run and then waits for its model, so the refill runs in that pause rather than
    // alongside the run that just began (measured with pauses between runs: ~60 µs a run).
    builder();
    state.limits.set_memory_limit(memory_limit);
    Some(state)
}

/// Whether a take found no spare within the last `COOL_OFF_NS`.
fn cooling_off() -> bool {
    let miss = LAST_MISS.load(Ordering::Relaxed);
    miss != 0 && now_ns().saturating_sub(miss) < COOL_OFF_NS
}

/// Frees the runtime of a disposed isolate, on the spares thread when it keeps up.
pub fn discard(state: IsolateState) {
    let mut discarded = DISCARDED.lock().unwrap();
    if discarded.len() >= MAX_DISCARDED || cooling_off() {
        drop(discarded);
        free(state);
        return;
    }
    discarded.push(Spare(state));
    drop(discarded);
    builder().unpark();
}

fn free(state: IsolateState) {
    let rt = state.raw_runtime();
    if !rt.is_null() {
        // SAFETY: the isolate is gone; this thread is the runtime's only holder now.
        unsafe { rquickjs::qjs::JS_UpdateStackTop(rt) };
    }
    drop(state);
}

fn builder() -> &'static Thread {
    BUILDER.get_or_init(|| {
        thread::Builder::new()
            .name("quickjs-spares".into())
            .spawn(build_forever)
            .expect("failed to spawn the spare-runtime thread")
            .thread()
            .clone()
    })
}

fn build_forever() {
    loop {
        loop {
            let next = DISCARDED.lock().unwrap().pop();
            match next {
                Some(Spare(state)) => free(state),
                None => break,
            }
        }
        while cooling_off() {
            thread::sleep(std::time::Duration::from_nanos(COOL_OFF_NS));
        }
        while READY.lock().unwrap().len() < KEEP {
            match build() {
                Some(spare) => READY.lock().unwrap().push(spare),
                // (Out of memory, most likely: callers build their own meanwhile.)
                None => break,
            }
        }
        thread::park();
    }
}

fn build() -> Option<Spare> {
    let state = IsolateState::new(Limits::new(usize::MAX)).ok()?;
    state.prepare_context().ok()?;
    Some(Spare(state))
}
