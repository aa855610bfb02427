//! Pooled owner threads. Spawning a thread costs as much as creating a QuickJS runtime, so a
//! thread that finishes serving one isolate goes back to the pool for the next one.

use std::sync::{Arc, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Native stack of an isolate thread. QuickJS's own limit (`limits::MAX_STACK`) sits well
/// inside it, so deep recursion is a RangeError, never a segfault.
const THREAD_STACK: usize = 8 * 1024 * 1024;
/// Idle threads kept for reuse; more than this exit when their isolate is done.
const MAX_IDLE: usize = 16;
/// An idle pooled thread spins this long before parking (the next isolate's first async call
/// often follows within a few hundred µs: a new agent run after the last one's dispose).
const HOT_SPIN: Duration = Duration::from_micros(300);
/// An idle pooled thread exits after this long without work.
const IDLE_EXIT: Duration = Duration::from_secs(30);

type Job = Box<dyn FnOnce() + Send>;

struct PooledThread {
    thread: Thread,
    job: Mutex<Option<Job>>,
}

static IDLE: Mutex<Vec<Arc<PooledThread>>> = Mutex::new(Vec::new());

/// Runs `job` on a pooled thread.
pub fn run_on_pool(job: Job) {
    if let Some(pooled) = IDLE.lock().unwrap().pop() {
        *pooled.job.lock().unwrap() = Some(job);
        pooled.thread.unpark();
        return;
    }
    let first = Mutex::new(Some(job));
    thread::Builder::new()
        // (Linux shows 15 characters of a thread's name: distinct from the spares thread's.)
        .name("quickjs-isolate".into())
        .stack_size(THREAD_STACK)
        .spawn(move || {
            let me = Arc::new(PooledThread { thread: thread::current(), job: first });
            loop {
                let job = me.job.lock().unwrap().take();
                if let Some(job) = job {
                    job();
                    let mut idle = IDLE.lock().unwrap();
                    if idle.len() >= MAX_IDLE {
                        return;
                    }
                    idle.push(me.clone());
                    continue;
                }
                // Stay hot briefly: a new isolate often follows a disposed one at once. Only
                // while a core is free for it, and without taking a turn from the threads waiting
                // on each other's answers (`spin_politely`: when this took one, the Node thread
                // and the next isolate's thread were parked in turn, each wake-up costing tens of
                // µs; an agent run 772 → 752 µs). Meanwhile, build spares and free disposed
                // runtimes a step at a time.
                let idle_since = Instant::now();
                super::wait::spin_politely(HOT_SPIN, || me.job.lock().unwrap().is_some(), super::spare::help);
                // Then sleep until a job comes or IDLE_EXIT has passed. Wake-ups without a job
                // are common (a thread handle kept by an isolate this thread once served gets
                // unparked), so the time is what counts: leaving at the first of those made the
                // pool spawn a thread every twenty agent runs.
                while me.job.lock().unwrap().is_none() {
                    let idle_for = idle_since.elapsed();
                    if idle_for < IDLE_EXIT {
                        thread::park_timeout(IDLE_EXIT - idle_for);
                        continue;
                    }
                    let mut idle = IDLE.lock().unwrap();
                    if let Some(pos) = idle.iter().position(|t| Arc::ptr_eq(t, &me)) {
                        // Still idle after the timeout, and nobody has claimed us: leave.
                        if me.job.lock().unwrap().is_none() {
                            idle.remove(pos);
                            return;
                        }
                    }
                    // Claimed meanwhile: the job is on its way.
                    drop(idle);
                    thread::park_timeout(Duration::from_millis(1));
                }
            }
        })
        .expect("failed to spawn an isolate thread");
}
