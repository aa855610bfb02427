//! How an isolate reaches the host (the Node thread that owns it): the one trait the binding
//! implements, so that the engine never touches Node-API.

use std::sync::Arc;

use super::errors::Thrown;
use super::transfer::Transfer;
use super::wait::Slot;

pub type HostResult = Result<Transfer, Thrown>;

/// How a host function behaves when code in an isolate calls it (isolated-vm's Callback modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallMode {
    /// Block until the host function returns; its result is copied back.
    Sync,
    /// Return a promise in the isolate at once; it settles with the host function's result.
    Async,
    /// Return `undefined` at once and forget the result.
    Ignored,
    /// Block until the promise the host function returns settles (`applySyncPromise`).
    SyncPromise,
}

/// A request to run a host function.
pub struct HostCall {
    pub function: Arc<HostFunction>,
    pub this: Transfer,
    pub args: Vec<Transfer>,
}

/// Work the host thread does for an isolate.
pub enum HostRequest {
    /// Run a host function; the answer goes to `reply` (none for ignored calls).
    Call { call: HostCall, mode: CallMode, reply: Option<Arc<Slot<HostResult>>> },
    /// Settle the promise of an asynchronous API call (`eval`, `run`, `get`, …).
    Settle { promise: u64, result: HostResult },
    /// Forget a host function nobody in the isolate can reach any more.
    Release { function: u64 },
}

impl HostRequest {
    /// Whether the host thread may serve this request from inside a synchronous wait. Only the
    /// calls an isolate is blocked on qualify; the rest waits for the event loop so that promise
    /// reactions and callbacks run in order.
    pub fn is_sync(&self) -> bool {
        matches!(self, HostRequest::Call { mode: CallMode::Sync | CallMode::SyncPromise, .. })
    }
}

pub trait Host: Send + Sync {
    /// True on the host's own thread.
    fn is_host_thread(&self) -> bool;
    /// Runs a host function right now; only on the host thread.
    fn call_now(&self, call: HostCall) -> HostResult;
    /// Queues a request for the host thread and wakes it.
    fn post(&self, request: HostRequest);
    /// On the host thread, inside a synchronous wait: serves one queued synchronous request.
    fn serve_one(&self) -> bool;
}

/// A host function as seen from the engine: an id in the host's table. Dropping the last
/// handle tells the host to forget the function.
pub struct HostFunction {
    pub id: u64,
    pub host: Arc<dyn Host>,
}

impl Drop for HostFunction {
    fn drop(&mut self) {
        self.host.post(HostRequest::Release { function: self.id });
    }
}
