//! How an isolate reaches the host (the Node thread that owns it): the one trait the binding
//! implements, so that the engine never touches Node-API.

use std::sync::Arc;

use super::errors::Thrown;
use super::transfer::{Mode, Transfer};
use super::wait::Slot;

pub type HostResult = Result<Transfer, Thrown>;

/// How a call waits for the host (isolated-vm's Callback modes and Reference spellings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallMode {
    /// Block until the host answers.
    Sync,
    /// Return a promise at once; it settles with the host's answer.
    Async,
    /// Return `undefined` at once and forget the answer.
    Ignored,
    /// Block until the promise the host function returns settles (`applySyncPromise`).
    SyncPromise,
}

/// A value that lives in the host, held for an isolate: an id in the host's table. Dropping the
/// last handle tells the host to forget it.
pub struct HostRef {
    pub id: u64,
    pub host: Arc<dyn Host>,
    /// `typeof` of the value, with `null` for null.
    pub type_of: &'static str,
    /// A function's `name` and `length`, which the callable an isolate gets for it carries, as
    /// isolated-vm's (empty and 0 for a value held as a Reference).
    pub name: String,
    pub length: u32,
}

impl Drop for HostRef {
    fn drop(&mut self) {
        self.host.post(HostRequest::Release { id: self.id });
    }
}

impl std::fmt::Debug for HostRef {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "HostRef({})", self.id)
    }
}

/// What to do with a host value.
#[derive(Debug)]
pub enum HostOp {
    Apply { this: Transfer, args: Vec<Transfer> },
    Get { key: Transfer, accessors: bool },
    Set { key: Transfer, value: Transfer },
    Delete { key: Transfer },
    Copy,
}

/// One operation on a host value, with how its result comes back.
#[derive(Debug)]
pub struct HostCall {
    pub target: Arc<HostRef>,
    pub op: HostOp,
    pub result: Mode,
}

/// Work the host thread does for an isolate.
pub enum HostRequest {
    /// Perform an operation; the answer goes to `reply` (none for ignored calls).
    Call { call: HostCall, mode: CallMode, reply: Option<Arc<Slot<HostResult>>> },
    /// Settle the promise of an asynchronous API call (`eval`, `run`, `get`, …).
    Settle { promise: u64, result: HostResult },
    /// Forget a host value nobody in an isolate can reach any more.
    Release { id: u64 },
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
    /// Performs a call right now; only on the host thread, never for `SyncPromise`.
    fn call_now(&self, call: HostCall) -> HostResult;
    /// Queues a request for the host thread and wakes it.
    fn post(&self, request: HostRequest);
    /// On the host thread, inside a synchronous wait: serves one queued synchronous request.
    fn serve_one(&self) -> bool;
    /// On the host thread: whether the host is shutting down, so code it runs must stop.
    fn is_ending(&self) -> bool {
        false
    }
}
