//! One operation, three spellings. Every API operation is written once, as a job that runs in
//! the isolate and returns a `Transfer`; `run` serves it as `xSync()` (block, return the value
//! or throw), `x()` (a Promise settled from the isolate's thread) or `xIgnored()` (fire and
//! forget), so the spellings cannot drift apart.

use std::ptr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use napi::sys;

use crate::engine::errors::{text, Thrown};
use crate::engine::host::{Host, HostRequest};
use crate::engine::transfer::Transfer;
use crate::engine::isolate::serve_current_thread;
use crate::engine::wait::spin_for;
use crate::engine::Isolate;

use super::convert::{thrown_to_js, to_js};
use super::host::{current, NodeHost};
use super::Raw;

pub const SYNC: u32 = 0;
pub const ASYNC: u32 = 1;
#[allow(dead_code)] // the third spelling: any mode other than SYNC and ASYNC
pub const IGNORED: u32 = 2;

/// How long an async call waits on the Node thread for a quick answer before it returns.
const ASYNC_SPIN: Duration = Duration::from_micros(150);

enum Handoff {
    /// The caller still spins; the result goes here.
    Waiting(Option<Result<Transfer, Thrown>>),
    /// The caller returned a promise; the result settles it through the event loop.
    GaveUp(u64),
}

pub type Job = Box<dyn FnOnce(&Arc<Isolate>) -> Result<Transfer, Thrown> + Send>;

/// Throws `thrown` as the host error of a synchronous call.
pub fn throw(env: sys::napi_env, thrown: &Thrown) -> napi::Error {
    let value = thrown_to_js(env, thrown, true);
    // SAFETY: throwing a live value; napi-rs sees the pending exception and leaves it.
    unsafe { sys::napi_throw(env, value) };
    napi::Error::new(napi::Status::PendingException, "")
}

/// Like `run`, for work that runs no user code: its async spelling runs at once on the calling
/// thread when the isolate is idle (see `answer_now`).
pub fn run_no_user_code(env: sys::napi_env, isolate: &Arc<Isolate>, mode: u32, job: Job) -> napi::Result<Raw> {
    if mode != ASYNC {
        return run(env, isolate, mode, job);
    }
    let host = current()?;
    match isolate.run_if_idle(job) {
        Ok(result) => answer_now(env, &host, result),
        Err(job) => run(env, isolate, mode, job),
    }
}

/// The answer of an async call whose outcome is known before it returns. Unless a host call
/// queued earlier must be served first, the outcome comes back as it is — the value, or the
/// error thrown marked as a rejection (`rejecting` in lib/transfer.js) — and the JS spelling
/// makes the promise (lib/runner.js): no napi promise, no call-site capture unless it failed.
/// Otherwise a promise, settled in its turn.
fn answer_now(env: sys::napi_env, host: &NodeHost, result: Result<Transfer, Thrown>) -> napi::Result<Raw> {
    match result {
        Ok(value) if host.serve_quiet_front() => to_js(env, &value).map(Raw),
        Err(thrown @ Thrown::Error(_)) if host.serve_quiet_front() => {
            let error = thrown_to_js(env, &thrown, true);
            let marked = super::convert::helper(env, c"rejecting", &[error])?;
            // SAFETY: throwing a live value; napi-rs sees the pending exception and leaves it.
            unsafe { sys::napi_throw(env, marked) };
            Err(napi::Error::new(napi::Status::PendingException, ""))
        }
        result => {
            let (id, promise) = host.new_promise()?;
            host.settle_in_order(id, result);
            Ok(Raw(promise))
        }
    }
}

pub fn run(env: sys::napi_env, isolate: &Arc<Isolate>, mode: u32, job: Job) -> napi::Result<Raw> {
    match mode {
        SYNC => match isolate.run_sync(job) {
            Ok(value) => to_js(env, &value).map(Raw),
            Err(thrown) => Err(throw(env, &thrown)),
        },
        ASYNC => {
            let host = current()?;
            if isolate.is_disposed() {
                let (id, promise) = host.new_promise()?;
                host.post(HostRequest::Settle { promise: id, result: Err(Thrown::plain(text::DISPOSED_ASYNC)) });
                return Ok(Raw(promise));
            }
            // The work runs on the isolate's thread. Waking an idle Node event loop costs ~20 µs
            // here, so the caller spins briefly for the answer first: a short job is answered
            // before this call returns (see `answer_now`); only a longer one gets a promise,
            // settled from the event loop.
            let handoff = Arc::new(Mutex::new(Handoff::Waiting(None)));
            let reply = handoff.clone();
            let poster = host.clone();
            let caller = std::thread::current();
            isolate.run_async_with(job, move |result| {
                let mut state = reply.lock().unwrap();
                match &mut *state {
                    Handoff::Waiting(slot) => {
                        *slot = Some(result);
                        caller.unpark();
                    }
                    Handoff::GaveUp(id) => poster.post(HostRequest::Settle { promise: *id, result }),
                }
            });
            // Stop early too when a request served meanwhile needs the event loop (a tool's
            // promise to await): nothing can settle before JS runs again.
            let loop_work = host.loop_work();
            let ready = || matches!(&*handoff.lock().unwrap(), Handoff::Waiting(Some(_))) || host.loop_work() != loop_work;
            spin_for(ASYNC_SPIN, ready, serve_current_thread);
            let mut state = handoff.lock().unwrap();
            if let Handoff::Waiting(Some(_)) = &*state {
                let Handoff::Waiting(Some(result)) = std::mem::replace(&mut *state, Handoff::Waiting(None)) else { unreachable!() };
                drop(state);
                return answer_now(env, &host, result);
            }
            // (Made while holding the hand-off: an answer arriving meanwhile waits for the id.)
            let (id, promise) = host.new_promise()?;
            *state = Handoff::GaveUp(id);
            Ok(Raw(promise))
        }
        _ => {
            isolate.run_async_with(job, |_| {});
            let mut undefined = ptr::null_mut();
            // SAFETY: plain value creation.
            unsafe { sys::napi_get_undefined(env, &mut undefined) };
            Ok(Raw(undefined))
        }
    }
}
