//! isolated-quickjs: isolated-vm's API served by QuickJS-ng.
//!
//! `engine` is the napi-free core (isolate threads, limits, value transfer, the V8 wire format);
//! `binding` exposes it to Node through napi-rs. Nothing napi-specific lives in `engine`, so the
//! core is testable with `cargo test` alone.

pub mod engine;
mod binding;

/// Rust's own allocations (transfers, queues, buffers) come from mimalloc too, as QuickJS's do
/// (see `engine::limits`): many are made on one thread and freed on another.
struct Mimalloc;

// SAFETY: mimalloc's aligned entry points honour the layout's size and alignment.
unsafe impl std::alloc::GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        libmimalloc_sys::mi_malloc_aligned(layout.size(), layout.align()) as _
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        libmimalloc_sys::mi_zalloc_aligned(layout.size(), layout.align()) as _
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: std::alloc::Layout) {
        libmimalloc_sys::mi_free(ptr as _)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        libmimalloc_sys::mi_realloc_aligned(ptr as _, new_size, layout.align()) as _
    }
}

#[global_allocator]
static GLOBAL: Mimalloc = Mimalloc;
