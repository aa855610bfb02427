//! `Wire`: the native half of every host-side handle and marker (Reference, the markers of
//! `derefInto()` and `copyInto()`, copies made for the `copy` option). It holds one `Transfer`
//! and, for References, the operations on the referenced value.

use napi::Env;
use napi_derive::napi;

use crate::engine::errors::{text, Thrown};
use crate::engine::transfer::{RefHandle, Transfer};

use super::convert::{from_js, from_js_copy};
use super::isolate::run_options;
use super::runner::{run, run_no_user_code, throw};
use super::Raw;

#[napi]
pub struct Wire {
    inner: std::cell::RefCell<Option<Transfer>>,
    /// Whether this is the marker of `copyInto()` (for the single-use error text).
    copy_marker: bool,
    /// A marker (of `copyInto()` or `derefInto()`): it may be handed over once, as in isolated-vm
    /// (with or without `release`).
    single_use: bool,
}

impl Wire {
    pub fn new(inner: Transfer) -> Self {
        Self::with(inner, false, false)
    }

    /// The single-use marker of `copyInto()` (`copy_marker`) or of `derefInto()`.
    fn marker(inner: Transfer, copy_marker: bool) -> Self {
        Self::with(inner, copy_marker, true)
    }

    /// Every host-side handle to an isolate value keeps that isolate from being disposed
    /// automatically (it is disposed when the last one, the Isolate object included, is gone).
    fn with(inner: Transfer, copy_marker: bool, single_use: bool) -> Self {
        if let Some(isolate) = inner.held_isolate() {
            isolate.retain_host_handle();
        }
        Wire { inner: std::cell::RefCell::new(Some(inner)), copy_marker, single_use }
    }

    /// Drops what the wire holds (release, GC, or a spent single-use marker).
    fn clear(&self) {
        if let Some(old) = self.inner.borrow_mut().take() {
            if let Some(isolate) = old.held_isolate() {
                isolate.release_host_handle();
            }
        }
    }

    /// The value this wire carries, for handing to an operation (a single-use marker is spent).
    pub fn transfer(&self) -> napi::Result<Transfer> {
        let slot = self.inner.borrow_mut();
        match slot.clone() {
            Some(t) => {
                if self.single_use {
                    drop(slot);
                    self.clear();
                }
                Ok(t)
            }
            None if self.single_use => Err(napi::Error::from_reason(match self.kind_of_marker() {
                true => "The return value of `copyInto()` should only be used once",
                false => "The return value of `derefInto()` should only be used once",
            })),
            None => Err(napi::Error::from_reason(text::REFERENCE_RELEASED)),
        }
    }

    fn kind_of_marker(&self) -> bool {
        self.copy_marker
    }

    fn handle(&self, env: &Env) -> napi::Result<std::sync::Arc<RefHandle>> {
        match &*self.inner.borrow() {
            Some(Transfer::Reference(h)) | Some(Transfer::Function(h)) => Ok(h.clone()),
            _ => Err(throw(env.raw(), &Thrown::plain(text::REFERENCE_RELEASED))),
        }
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.clear();
    }
}

#[napi]
impl Wire {
    /// A function's `[name, length]`, for the callable the host gets (`wrapFunction`).
    #[napi(getter)]
    pub fn signature(&self) -> Option<(String, u32)> {
        match &*self.inner.borrow() {
            Some(Transfer::Function(h)) => h.signature.clone(),
            _ => None,
        }
    }

    /// `typeof` of the referenced value (`null` for null).
    #[napi(getter, js_name = "typeof")]
    pub fn type_of(&self) -> Option<String> {
        match &*self.inner.borrow() {
            Some(Transfer::Reference(h)) | Some(Transfer::Function(h)) => Some(h.type_of.to_string()),
            Some(Transfer::HostReference(r)) | Some(Transfer::HostFunction(r, _)) => Some(r.type_of.to_string()),
            _ => None,
        }
    }

    #[napi(getter)]
    pub fn released(&self) -> bool {
        self.inner.borrow().is_none()
    }

    #[napi]
    pub fn release(&self) {
        self.clear();
    }

    /// Another wire to the same value, released on its own: a Reference handed over as an
    /// argument arrives as a new Reference, as in isolated-vm.
    #[napi]
    pub fn duplicate(&self) -> napi::Result<Wire> {
        Ok(Wire::new(self.transfer()?))
    }

    /// The carried value, materialised in the host (`externalCopy.copy()`).
    #[napi]
    pub fn materialize(&self, env: Env) -> napi::Result<Raw> {
        let value = match self.transfer()? {
            Transfer::ExternalCopy(bytes) => Transfer::Copy(bytes),
            other => other,
        };
        super::convert::to_js(env.raw(), &value).map(Raw)
    }

    /// The marker of `externalCopy.copyInto()`: a fresh copy wherever it lands.
    #[napi]
    pub fn copy_into(&self) -> napi::Result<Wire> {
        match self.transfer()? {
            Transfer::ExternalCopy(bytes) | Transfer::Copy(bytes) => Ok(Wire::marker(Transfer::Copy(bytes), true)),
            _ => Err(napi::Error::from_reason("not a copy")),
        }
    }

    /// Bytes held by an ExternalCopy.
    #[napi(getter)]
    pub fn byte_length(&self) -> f64 {
        match &*self.inner.borrow() {
            Some(Transfer::ExternalCopy(bytes)) | Some(Transfer::Copy(bytes)) => bytes.len() as f64,
            _ => 0.0,
        }
    }

    /// The marker that becomes the referenced value in its own isolate.
    #[napi]
    pub fn deref_into(&self, env: Env) -> napi::Result<Wire> {
        let marker = match &*self.inner.borrow() {
            Some(Transfer::HostReference(r)) | Some(Transfer::HostFunction(r, _)) => Transfer::HostDeref(r.clone()),
            _ => Transfer::Deref(self.handle(&env)?),
        };
        Ok(Wire::marker(marker, false))
    }

    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn get(&self, env: Env, mode: u32, key: Raw, timeout: f64, transfer: u32, promise: bool, accessors: bool) -> napi::Result<Raw> {
        let handle = self.handle(&env)?;
        // Inherited properties only for a Reference made with `unsafeInherit`, as in isolated-vm.
        let inherit = handle.inherit;
        let key = from_js(env.raw(), key.0)?;
        let options = run_options(timeout, transfer, promise);
        let id = handle.id;
        run(env.raw(), &handle.isolate, mode, Box::new(move |iso| iso.state().get(iso, id, &key, &options, inherit, accessors)))
    }

    /// `set`; `copy` asks for a structured clone of `value` instead of the plain transfer.
    #[napi]
    pub fn set(&self, env: Env, mode: u32, key: Raw, value: Raw, copy: bool) -> napi::Result<Raw> {
        let handle = self.handle(&env)?;
        let key = from_js(env.raw(), key.0)?;
        let value = if copy { from_js_copy(env.raw(), value.0)? } else { from_js(env.raw(), value.0)? };
        let id = handle.id;
        // No user code runs in a set (it defines a data property, as in isolated-vm: no setter).
        run_no_user_code(env.raw(), &handle.isolate, mode, Box::new(move |iso| iso.state().set(iso, id, &key, &value).map(|_| Transfer::Undefined)))
    }

    #[napi]
    pub fn delete(&self, env: Env, mode: u32, key: Raw) -> napi::Result<Raw> {
        let handle = self.handle(&env)?;
        let key = from_js(env.raw(), key.0)?;
        let id = handle.id;
        run_no_user_code(env.raw(), &handle.isolate, mode, Box::new(move |iso| iso.state().delete(id, &key).map(|_| Transfer::Undefined)))
    }

    /// `apply`; `args` are already in wire form.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn apply(&self, env: Env, mode: u32, this: Raw, args: Vec<Raw>, timeout: f64, transfer: u32, promise: bool) -> napi::Result<Raw> {
        let handle = self.handle(&env)?;
        let this = from_js(env.raw(), this.0)?;
        let args = args.iter().map(|a| from_js(env.raw(), a.0)).collect::<napi::Result<Vec<_>>>()?;
        let options = run_options(timeout, transfer, promise);
        let id = handle.id;
        run(env.raw(), &handle.isolate, mode, Box::new(move |iso| iso.state().apply(iso, id, &this, &args, &options)))
    }

    #[napi]
    pub fn copy(&self, env: Env, mode: u32) -> napi::Result<Raw> {
        let handle = self.handle(&env)?;
        let id = handle.id;
        run(env.raw(), &handle.isolate, mode, Box::new(move |iso| iso.state().copy(id)))
    }
}

/// A structured clone of a host value, for the `copy` transfer option.
#[napi]
pub fn wire_copy(env: Env, value: Raw) -> napi::Result<Wire> {
    Ok(Wire::new(from_js_copy(env.raw(), value.0)?))
}

/// An ExternalCopy's payload: a structured clone held outside every heap, from the V8-format
/// bytes the caller serialized (lib/transfer.js `cloneBytes`).
#[napi]
pub fn wire_external_copy_of(env: Env, bytes: Raw) -> napi::Result<Wire> {
    let bytes = super::convert::buffer_bytes(env.raw(), bytes.0)?;
    Ok(Wire::new(Transfer::ExternalCopy(crate::engine::transfer::SharedBytes::external(bytes))))
}

/// A Reference to a host value.
#[napi]
pub fn wire_host_reference(env: Env, value: Raw) -> napi::Result<Wire> {
    Ok(Wire::new(Transfer::HostReference(super::convert::host_ref(env.raw(), value.0)?)))
}

/// A host function as a Callback: 0 sync, 1 async, 2 ignored.
#[napi]
pub fn wire_callback(env: Env, callback: Raw, mode: u32) -> napi::Result<Wire> {
    use crate::engine::host::CallMode;
    let mode = match mode {
        1 => CallMode::Async,
        2 => CallMode::Ignored,
        _ => CallMode::Sync,
    };
    Ok(Wire::new(super::convert::host_function(env.raw(), callback.0, mode)?))
}

/// The promise of an `applySyncPromise` call settled (called by index.js).
#[napi]
pub fn host_settled(id: f64, ok: bool, value: Raw) -> napi::Result<()> {
    super::host::current()?.host_settled(id as u64, ok, value.0);
    Ok(())
}

/// The promise of an `applySyncPromise` call settled with a `copyInto()` marker: its bytes.
#[napi]
pub fn host_settled_with_copy(id: f64, bytes: Raw) -> napi::Result<()> {
    super::host::current()?.host_settled_with_copy(id as u64, bytes.0);
    Ok(())
}

/// Bytes held by live ExternalCopy payloads (`ExternalCopy.totalExternalSize`).
#[napi]
pub fn total_external_size() -> f64 {
    crate::engine::transfer::SharedBytes::total_external() as f64
}
