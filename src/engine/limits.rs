//! Resource limits: memory accounting, deadlines and termination, all enforced from QuickJS's
//! allocator and interrupt handler.
//!
//! QuickJS reports an exhausted memory limit as an ordinary, catchable `InternalError`. The
//! contract wants hitting `memoryLimit` to be final, so the allocator itself enforces the limit
//! and raises a flag; the interrupt handler then ends the running code and the isolate is
//! disposed.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rquickjs::allocator::Allocator;

/// QuickJS's own stack limit. Every thread that runs an isolate has at least 8 MiB of native
/// stack (ours) or Node's 984 KiB-plus main-thread budget sits above it, so overflow is a
/// RangeError well before the real stack ends.
pub const MAX_STACK: usize = 512 * 1024;

/// Allocations allowed past the memory limit while the code that hit it is being stopped.
const OOM_RESERVE: usize = 1024 * 1024;

/// Why QuickJS was asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Stop {
    None = 0,
    Timeout = 1,
    Disposed = 2,
    MemoryLimit = 3,
}

/// Asks the host whether the code should stop for a reason only it knows (its environment is
/// shutting down, e.g. a terminated worker thread).
pub type HostProbe = Box<dyn Fn() -> bool + Send + Sync>;

/// How often the interrupt handler asks the host probe.
const PROBE_EVERY_NS: u64 = 10_000_000;

pub struct Limits {
    /// Bytes QuickJS may hold. Set once, before the isolate is handed out (a spare runtime is
    /// built unlimited and gets its isolate's limit when taken: see `spare`).
    memory_limit: AtomicUsize,
    probe: OnceLock<HostProbe>,
    last_probe: AtomicU64,
    allocated: AtomicUsize,
    out_of_memory: AtomicBool,
    terminated: AtomicBool,
    /// Nanoseconds since `epoch()` after which the running code times out; u64::MAX for none.
    deadline: AtomicU64,
    last_stop: AtomicU8,
}

/// CPU time of the calling thread, in nanoseconds (`cpuTime`). Where the platform offers no
/// per-thread clock, wall time stands in (documented in the README).
pub fn thread_cpu_ns() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    #[cfg(target_os = "macos")]
    const CLOCK_THREAD_CPUTIME_ID: i32 = 16;
    #[cfg(all(unix, not(any(target_os = "linux", target_os = "android", target_os = "macos"))))]
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    #[cfg(unix)]
    if let Some(ns) = clock_ns(CLOCK_THREAD_CPUTIME_ID) {
        return ns;
    }
    now_ns()
}

/// A clock of the system's, in nanoseconds (`clock_gettime`, through the vDSO where there is one).
#[cfg(unix)]
fn clock_ns(clock: i32) -> Option<u64> {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a plain libc call writing into a local.
    (unsafe { clock_gettime(clock, &mut ts) } == 0).then(|| ts.sec as u64 * 1_000_000_000 + ts.nsec as u64)
}

/// Monotonic nanoseconds (never 0: 0 means "unset" in the places that keep them).
pub fn now_ns() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(ns) = clock_ns(1 /* CLOCK_MONOTONIC */) {
        return ns.max(1);
    }
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64 + 1
}

/// A monotonic counter of unspecified unit (the CPU's time-stamp counter where there is one),
/// for shares of an interval timed with `now_ns`: read around every host callback, where a
/// system clock read (~30 ns on a VM) would add a fifth to the callback's cost. Never 0.
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions.
        unsafe { core::arch::x86_64::_rdtsc().max(1) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        now_ns()
    }
}

impl Limits {
    pub fn new(memory_limit: usize) -> Arc<Self> {
        Arc::new(Limits {
            memory_limit: AtomicUsize::new(memory_limit),
            probe: OnceLock::new(),
            last_probe: AtomicU64::new(0),
            allocated: AtomicUsize::new(0),
            out_of_memory: AtomicBool::new(false),
            terminated: AtomicBool::new(false),
            deadline: AtomicU64::new(u64::MAX),
            last_stop: AtomicU8::new(0),
        })
    }

    pub fn memory_limit(&self) -> usize {
        self.memory_limit.load(Ordering::Relaxed)
    }

    pub fn set_memory_limit(&self, bytes: usize) {
        self.memory_limit.store(bytes, Ordering::Relaxed);
    }

    pub fn allocated(&self) -> usize {
        self.allocated.load(Ordering::Relaxed)
    }

    pub fn out_of_memory(&self) -> bool {
        self.out_of_memory.load(Ordering::Relaxed)
    }

    pub fn terminate(&self) {
        self.terminated.store(true, Ordering::SeqCst);
    }

    pub fn terminated(&self) -> bool {
        self.terminated.load(Ordering::Relaxed)
    }

    pub fn deadline(&self) -> u64 {
        self.deadline.load(Ordering::Relaxed)
    }

    pub fn set_deadline(&self, deadline: u64) {
        self.deadline.store(deadline, Ordering::Relaxed);
    }

    /// Moves the deadline later by `ns`, for time spent paused waiting on the host.
    pub fn extend_deadline(&self, ns: u64) {
        let d = self.deadline();
        if d != u64::MAX {
            self.set_deadline(d.saturating_add(ns));
        }
    }

    /// Runs `f` (reading an error that just stopped the code) with a short grace period if the
    /// deadline has passed, so that the error's stack can still be read. Disposal and the memory
    /// limit stay in force.
    pub fn with_grace<R>(&self, f: impl FnOnce() -> R) -> R {
        const GRACE_NS: u64 = 50_000_000;
        let saved = self.deadline();
        let saved_stop = self.last_stop.load(Ordering::Relaxed);
        if saved != u64::MAX && now_ns() >= saved {
            self.set_deadline(now_ns() + GRACE_NS);
        }
        let result = f();
        self.set_deadline(saved);
        self.last_stop.store(saved_stop, Ordering::Relaxed);
        result
    }

    pub fn set_probe(&self, probe: HostProbe) {
        let _ = self.probe.set(probe);
    }

    /// Asks the host probe, at most every `PROBE_EVERY_NS`; a yes terminates the code.
    fn probe_host(&self) {
        let Some(probe) = self.probe.get() else { return };
        let now = now_ns();
        if now.saturating_sub(self.last_probe.load(Ordering::Relaxed)) < PROBE_EVERY_NS {
            return;
        }
        self.last_probe.store(now, Ordering::Relaxed);
        if probe() {
            self.terminate();
        }
    }

    /// The interrupt handler's question: should the running code stop now?
    pub fn should_stop(&self) -> bool {
        self.probe_host();
        let stop = if self.out_of_memory() {
            Stop::MemoryLimit
        } else if self.terminated() {
            Stop::Disposed
        } else if self.deadline() != u64::MAX && now_ns() >= self.deadline() {
            Stop::Timeout
        } else {
            return false;
        };
        self.last_stop.store(stop as u8, Ordering::Relaxed);
        true
    }

    /// The reason of the last stop, cleared by reading it.
    pub fn take_stop(&self) -> Stop {
        match self.last_stop.swap(0, Ordering::Relaxed) {
            1 => Stop::Timeout,
            2 => Stop::Disposed,
            3 => Stop::MemoryLimit,
            _ => Stop::None,
        }
    }

    /// The most serious condition currently in force, whether or not code noticed it.
    pub fn pending_stop(&self) -> Stop {
        if self.out_of_memory() {
            Stop::MemoryLimit
        } else if self.terminated() {
            Stop::Disposed
        } else {
            Stop::None
        }
    }
}

/// QuickJS's allocator: the system allocator, counted against the isolate's memory limit.
pub struct CountingAllocator {
    pub limits: Arc<Limits>,
}

// mimalloc (see the README's dependency notes): QuickJS allocates and frees small blocks by the
// thousand for every context made and freed, often on another thread than the one that made
// them.
use libmimalloc_sys::{mi_calloc as calloc, mi_free as free, mi_malloc as malloc, mi_realloc as realloc, mi_usable_size};

unsafe fn block_size(ptr: *mut u8) -> usize {
    mi_usable_size(ptr as _)
}

impl CountingAllocator {
    /// Reserves `size` more bytes, or raises the out-of-memory flag and refuses.
    ///
    /// Once the flag is up, a small reserve above the limit stays open: ending the running code
    /// needs a few allocations (the uncatchable `interrupted` error, unwinding), and without them
    /// QuickJS would throw a catchable out-of-memory error instead, forever.
    fn admit(&self, size: usize) -> bool {
        let limits = &self.limits;
        let wanted = limits.allocated.load(Ordering::Relaxed).saturating_add(size);
        let limit = limits.memory_limit();
        if wanted <= limit {
            return true;
        }
        if limits.out_of_memory.swap(true, Ordering::SeqCst) {
            return wanted <= limit.saturating_add(OOM_RESERVE);
        }
        false
    }

    fn account(&self, added: usize, removed: usize) {
        if added >= removed {
            self.limits.allocated.fetch_add(added - removed, Ordering::Relaxed);
        } else {
            self.limits.allocated.fetch_sub(removed - added, Ordering::Relaxed);
        }
    }
}

// SAFETY: every pointer comes from the C allocator, which aligns to at least `usize`;
// `usable_size` asks that same allocator.
unsafe impl Allocator for CountingAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.admit(size) {
            return std::ptr::null_mut();
        }
        // SAFETY: plain C allocation; a null result is passed on to QuickJS, which handles it.
        let ptr = unsafe { malloc(size) as *mut u8 };
        if !ptr.is_null() {
            self.account(unsafe { block_size(ptr) }, 0);
        }
        ptr
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        if !self.admit(count.saturating_mul(size)) {
            return std::ptr::null_mut();
        }
        // SAFETY: as for `alloc`.
        let ptr = unsafe { calloc(count, size) as *mut u8 };
        if !ptr.is_null() {
            self.account(unsafe { block_size(ptr) }, 0);
        }
        ptr
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        self.account(0, block_size(ptr));
        free(ptr as _);
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if new_size == 0 {
            if !ptr.is_null() {
                self.dealloc(ptr);
            }
            return std::ptr::null_mut();
        }
        let old = if ptr.is_null() { 0 } else { block_size(ptr) };
        if new_size > old && !self.admit(new_size - old) {
            return std::ptr::null_mut();
        }
        let new_ptr = realloc(ptr as _, new_size) as *mut u8;
        if !new_ptr.is_null() {
            self.account(block_size(new_ptr), old);
        }
        new_ptr
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        block_size(ptr)
    }
}

