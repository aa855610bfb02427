//! Spare runtimes: QuickJS runtimes built ahead of time, each with the context its first
//! `createContext` will get, so that making an isolate and its context costs a hand-over instead
//! of ~130 µs of QuickJS setup on the caller's path; and the freeing of disposed isolates'
//! runtimes (~95 µs each), off the disposing thread's path.
//!
//! That work (a "chore") is done in steps of a few to ~30 µs by threads that would otherwise
//! spin idle: an isolate's thread waiting for its next task, a pooled thread waiting for its next
//! isolate (`help`). Between two steps they look for their real work, so a task that arrives
//! waits for one step at most. Work done by a thread of its own instead (as first built) took
//! the core from the very threads that were spinning for a hand-over, for its whole time slice:
//! an agent run's first `evalClosure` waited ~200 µs behind a spare being built.
//!
//! What no spinning thread takes up within `DEFER_NS` (a host that makes isolates and then
//! sleeps, or uses only synchronous calls) is finished by the spares thread.
//!
//! A spare has run no code and holds no host value: it is what `IsolateState::new` plus
//! `createContext` would make, built earlier and unlimited; the taker sets its memory limit.
//! When none is ready (the first isolate of a process, or a burst), the caller builds its own.
//! When isolates are made faster than spares can be built (a tight create/dispose loop), work
//! in the background only competes with the caller for the cores and the allocator (measured:
//! create+dispose 101 → 140 µs), so a take that finds no spare stops the building for
//! `COOL_OFF_NS`, and meanwhile callers build and free their own, as without spares.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::Duration;

use super::limits::{now_ns, Limits};
use super::realm::NewContext;
use super::state::IsolateState;

/// Spares kept ready. An agent host makes one isolate per run, a few at once at most; each
/// spare holds ~200 KiB.
const KEEP: usize = 2;

/// Runtimes of disposed isolates waiting to be freed; past this many, the disposing thread
/// frees its own (nobody is keeping up, and memory must not pile up).
const MAX_DISCARDED: usize = 8;

/// How long a take that found no spare stops the building (see above).
const COOL_OFF_NS: u64 = 2_000_000;

/// Chores pending this long are finished by the spares thread.
const DEFER_NS: u64 = 1_000_000;

/// A runtime no isolate owns. It is touched only by the thread holding it: a lock's holder,
/// then the isolate that takes it.
struct Spare(IsolateState);

// SAFETY: rquickjs's `parallel` feature makes the runtime movable between threads, and a spare
// has exactly one holder at a time (see above).
unsafe impl Send for Spare {}

/// The chore under way, advanced one step at a time by whoever holds `WORK`.
enum Chore {
    /// Freeing a discarded runtime: `clear`, then free it. (A garbage collection between the
    /// two would be wasted: the contexts of an agent run only go with the runtime, which
    /// collects again anyway. Without it, runs back to back: 830 → 788 µs.)
    Free(Spare, u8),
    /// Building a spare: a runtime, then its first context step by step.
    Build(Spare, Option<NewContext>),
}

// SAFETY: as for `Spare`: the context being made belongs to the spare's runtime and moves with it.
unsafe impl Send for Chore {}

static READY: Mutex<Vec<Spare>> = Mutex::new(Vec::new());
static DISCARDED: Mutex<Vec<Spare>> = Mutex::new(Vec::new());
static WORK: Mutex<Option<Chore>> = Mutex::new(None);
/// Whether a chore may be waiting (set by whoever adds one, cleared by a helper finding none).
static PENDING: AtomicBool = AtomicBool::new(false);
/// When chores last became pending (`now_ns`).
static PENDING_SINCE: AtomicU64 = AtomicU64::new(0);
/// When a take last found no spare (`now_ns`), 0 for never.
static LAST_MISS: AtomicU64 = AtomicU64::new(0);
static SPARES_THREAD: OnceLock<Thread> = OnceLock::new();

/// A spare runtime with `memory_limit`, if one is ready.
pub fn take(memory_limit: usize) -> Option<IsolateState> {
    let spare = READY.lock().unwrap().pop();
    let Some(Spare(state)) = spare else {
        LAST_MISS.store(now_ns().max(1), Ordering::Relaxed);
        announce();
        return None;
    };
    // The refill waits for the next discard (`dispose`): an agent disposes its isolate at the end
    // of a run and then waits for its model, so the refill runs in that pause rather than
    // alongside the run that just began (measured with pauses between runs: ~60 µs a run).
    spares_thread();
    state.limits.set_memory_limit(memory_limit);
    Some(state)
}

/// Frees the runtime of a disposed isolate, in the background when that keeps up.
pub fn discard(state: IsolateState) {
    // ExternalCopy payloads held by the isolate stop counting in `totalExternalSize` when it is
    // disposed, as in isolated-vm: such a runtime is freed now, by the disposing thread. (Only
    // freeing the runtime frees them: a context that held objects of our native classes survives
    // dropping our handles and a garbage collection, measured.)
    if state.held_external_copy() {
        free(state);
        return;
    }
    let mut discarded = DISCARDED.lock().unwrap();
    if discarded.len() >= MAX_DISCARDED || cooling_off() {
        drop(discarded);
        free(state);
        return;
    }
    discarded.push(Spare(state));
    drop(discarded);
    announce();
}

/// One step of a pending chore, if there is one and no other thread is taking a step: for a
/// thread that is waiting for its own work anyway. Returns whether it did some.
pub fn help() -> bool {
    if !PENDING.load(Ordering::Relaxed) {
        return false;
    }
    match WORK.try_lock() {
        Ok(mut work) => super::wait::off_turn(|| step(&mut work)),
        Err(_) => false,
    }
}

/// Marks chores pending, and wakes the spares thread to finish them in `DEFER_NS` if helpers
/// have not.
fn announce() {
    if !PENDING.swap(true, Ordering::AcqRel) {
        PENDING_SINCE.store(now_ns(), Ordering::Relaxed);
        spares_thread().unpark();
    }
}

/// Whether a take found no spare within the last `COOL_OFF_NS`.
fn cooling_off() -> bool {
    let miss = LAST_MISS.load(Ordering::Relaxed);
    miss != 0 && now_ns().saturating_sub(miss) < COOL_OFF_NS
}

/// Takes one step of the chore under way, or starts the next one. Returns false when there is
/// nothing to do now.
fn step(work: &mut Option<Chore>) -> bool {
    if work.is_none() {
        // Cleared before looking, so that a chore added meanwhile marks itself pending again.
        PENDING.store(false, Ordering::Release);
        *work = next_chore();
        if work.is_none() {
            return false;
        }
        PENDING.store(true, Ordering::Release);
        if matches!(work, Some(Chore::Build(..))) {
            return true;
        }
    }
    match work.as_mut().expect("a chore") {
        Chore::Free(Spare(state), taken) => {
            aim(state);
            *taken += 1;
            match *taken {
                1 => state.clear(),
                _ => return finish(work),
            }
        }
        Chore::Build(Spare(state), making) => match state.prepare_step(making) {
            Ok(false) => {}
            Ok(true) => {
                let Some(Chore::Build(spare, _)) = work.take() else { unreachable!() };
                READY.lock().unwrap().push(spare);
                return true;
            }
            // (Out of memory, most likely: callers build their own meanwhile.)
            Err(_) => return finish(work),
        },
    };
    true
}

/// Frees the chore's runtime: the last step of `Free`, or a spare that failed to build.
fn finish(work: &mut Option<Chore>) -> bool {
    if let Some(Chore::Free(Spare(state), _) | Chore::Build(Spare(state), _)) = work.take() {
        free(state);
    }
    true
}

/// The next chore: freeing comes first (memory), then building up to `KEEP` spares.
fn next_chore() -> Option<Chore> {
    if let Some(spare) = DISCARDED.lock().unwrap().pop() {
        return Some(Chore::Free(spare, 0));
    }
    if cooling_off() {
        // (The spares thread comes back for the refill when the cool-off ends.)
        PENDING.store(true, Ordering::Release);
        return None;
    }
    if READY.lock().unwrap().len() >= KEEP {
        return None;
    }
    // Making the runtime is the first step (~10 µs).
    let state = IsolateState::new(Limits::new(usize::MAX)).ok()?;
    Some(Chore::Build(Spare(state), None))
}

/// Points the runtime's stack check at this thread (steps of one chore run on several).
fn aim(state: &IsolateState) {
    let rt = state.raw_runtime();
    if !rt.is_null() {
        // SAFETY: this thread is the runtime's only holder now.
        unsafe { rquickjs::qjs::JS_UpdateStackTop(rt) };
    }
}

fn free(state: IsolateState) {
    aim(&state);
    drop(state);
}

fn spares_thread() -> &'static Thread {
    SPARES_THREAD.get_or_init(|| {
        thread::Builder::new()
            .name("quickjs-spares".into())
            .spawn(finish_deferred_chores)
            .expect("failed to spawn the spare-runtime thread")
            .thread()
            .clone()
    })
}

/// The spares thread: finishes what helpers leave pending for `DEFER_NS` (and the refill after
/// a cool-off).
fn finish_deferred_chores() {
    loop {
        if !PENDING.load(Ordering::Acquire) {
            thread::park();
            continue;
        }
        let now = now_ns();
        let due = (PENDING_SINCE.load(Ordering::Relaxed) + DEFER_NS).max(LAST_MISS.load(Ordering::Relaxed) + COOL_OFF_NS);
        if now < due {
            thread::sleep(Duration::from_nanos(due - now));
            continue;
        }
        // (Until there is nothing to do, or a take missed meanwhile: then PENDING stays set and
        // the loop sleeps until the cool-off ends.)
        while step(&mut WORK.lock().unwrap()) {}
    }
}
