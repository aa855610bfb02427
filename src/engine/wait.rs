//! Waiting for another thread: spin briefly, then park.
//!
//! A parked hand-off costs 15–47 µs on the machines we measured, a spinning one about 1 µs, so
//! every wait spins for a bounded time before it parks. Only as many threads spin at once as
//! there are cores, so waiting never steals the CPU that the awaited thread needs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long a waiter spins before it parks.
const SPIN_BUDGET: Duration = Duration::from_micros(50);
/// A parked waiter wakes up at least this often, as a safety net against a lost wake-up.
const PARK_SLICE: Duration = Duration::from_millis(50);

static SPINNERS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// How many of the `SPINNERS` turns this thread holds (waits nest).
    static TURNS_HELD: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn take_turn() -> bool {
    let taken = SPINNERS.fetch_add(1, Ordering::Relaxed) < max_spinners();
    if taken {
        TURNS_HELD.with(|h| h.set(h.get() + 1));
    } else {
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
    }
    taken
}

fn give_turn() {
    TURNS_HELD.with(|h| h.set(h.get() - 1));
    SPINNERS.fetch_sub(1, Ordering::Relaxed);
}

/// Runs `work` (background work a waiter does between two checks, see `spare::help`) without
/// this thread's spinning turn: it is not waiting for a hand-over meanwhile, and a thread that is
/// (the Node thread lingering for an isolate's next request) must not find every turn taken and
/// fall back to a wake-up that costs tens of µs. (A disposed isolate's thread finishing its last
/// step held one through the next run's start: ~1.5 such fall-backs a run.)
pub fn off_turn<R>(work: impl FnOnce() -> R) -> R {
    if TURNS_HELD.with(|h| h.get()) == 0 {
        return work();
    }
    SPINNERS.fetch_sub(1, Ordering::Relaxed);
    let result = work();
    SPINNERS.fetch_add(1, Ordering::Relaxed);
    result
}

fn max_spinners() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}

/// One step of a spin: a CPU pause, and now and then a yield to the OS scheduler, so that on a
/// busy machine the thread being waited for gets the core instead of the spinner.
pub fn relax(spins: &mut u32) {
    *spins = spins.wrapping_add(1);
    if *spins % 64 == 0 {
        thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// Blocks until `ready()` holds. While waiting, `serve()` is offered the chance to do work that
/// arrives for this thread (nested calls); it returns true when it did some.
pub fn wait_until(ready: impl FnMut() -> bool, serve: impl FnMut() -> bool) {
    wait_spinning(SPIN_BUDGET, ready, serve)
}

/// `wait_until` with its own spin budget.
pub fn wait_spinning(budget: Duration, mut ready: impl FnMut() -> bool, mut serve: impl FnMut() -> bool) {
    let mut spin_start = Instant::now();
    let mut spins = 0u32;
    let mut spinning = take_turn();
    loop {
        if ready() {
            break;
        }
        if serve() {
            spin_start = Instant::now();
            continue;
        }
        if spinning {
            if spin_start.elapsed() < budget {
                relax(&mut spins);
                continue;
            }
            spinning = false;
            give_turn();
        }
        thread::park_timeout(PARK_SLICE);
    }
    if spinning {
        give_turn();
    }
}

/// Spins for at most `budget` until `ready()` holds, serving work meanwhile; never parks.
/// Returns whether `ready()` held.
pub fn spin_for(budget: Duration, mut ready: impl FnMut() -> bool, mut serve: impl FnMut() -> bool) -> bool {
    if !take_turn() {
        return ready();
    }
    let start = Instant::now();
    let mut spins = 0u32;
    let done = loop {
        if ready() {
            break true;
        }
        if !serve() && start.elapsed() >= budget {
            break false;
        }
        relax(&mut spins);
    };
    give_turn();
    done
}

/// `spin_for` for a thread that has nothing urgent to wait for: it spins only while a core is
/// left over by the other waiters, without taking one of their turns (see `SPINNERS`).
pub fn spin_politely(budget: Duration, mut ready: impl FnMut() -> bool, mut serve: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        if ready() {
            return true;
        }
        if SPINNERS.load(Ordering::Relaxed) >= max_spinners() {
            return false;
        }
        if !serve() && start.elapsed() >= budget {
            return false;
        }
        relax(&mut spins);
    }
}

/// A one-shot reply from another thread. The waiter is the thread that created the slot, or the
/// one that last called `wait_here`.
pub struct Slot<T> {
    value: Mutex<Option<T>>,
    ready: AtomicBool,
    waiter: Mutex<Thread>,
}

impl<T> Slot<T> {
    pub fn new() -> Arc<Self> {
        Arc::new(Slot { value: Mutex::new(None), ready: AtomicBool::new(false), waiter: Mutex::new(thread::current()) })
    }

    /// Makes the calling thread the one woken by `fill` (a reply awaited on another thread than
    /// the one that asked for it).
    pub fn wait_here(&self) {
        *self.waiter.lock().unwrap() = thread::current();
    }

    pub fn fill(&self, value: T) {
        *self.value.lock().unwrap() = Some(value);
        self.ready.store(true, Ordering::Release);
        self.waiter.lock().unwrap().unpark();
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Takes the value once `is_ready()`.
    pub fn take(&self) -> T {
        self.value.lock().unwrap().take().expect("slot taken before it was filled")
    }
}
