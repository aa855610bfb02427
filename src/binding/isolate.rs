//! `NativeIsolate`: the native half of `Isolate`, `Context` and `Script` (contexts and scripts
//! are ids within their isolate). Each method is one operation, served in the spelling named by
//! `mode` (see `runner`).

use std::sync::Arc;

use napi::bindgen_prelude::Buffer;
use napi::Env;
use napi_derive::napi;

use crate::engine::code_cache;
use crate::engine::errors::Thrown;
use crate::engine::state::{RunOptions, Source};
use crate::engine::transfer::{Mode, Transfer};
use crate::engine::Isolate;

use super::convert::from_js;
use super::host::current;
use super::runner::{run, run_no_user_code, throw, Job};
use super::Raw;

/// Sources up to this size compile on the calling thread when the isolate is idle (about
/// 60 ns a character here: 16 KiB is about a millisecond); larger ones on the isolate's thread.
const INLINE_COMPILE_MAX: usize = 16 * 1024;

#[napi]
pub struct NativeIsolate {
    pub(crate) inner: Arc<Isolate>,
}

/// The wire form of TransferOptions: 0 none, 1 copy, 2 externalCopy, 3 reference.
pub fn mode_of(code: u32) -> Mode {
    match code {
        1 => Mode::Copy,
        2 => Mode::ExternalCopy,
        3 => Mode::Reference,
        _ => Mode::Plain,
    }
}

pub fn run_options(timeout: f64, transfer: u32, promise: bool) -> RunOptions {
    RunOptions { timeout_ms: (timeout > 0.0).then_some(timeout), mode: mode_of(transfer), promise }
}

fn source(code: String, filename: String, line_offset: i32, column_offset: i32) -> Source {
    Source { code, filename, line_offset, column_offset }
}

impl NativeIsolate {
    /// A compile: it runs no user code, so a short source (well under a millisecond to
    /// compile) is compiled at once on the calling thread when the isolate is idle.
    fn compile(&self, env: Env, mode: u32, code_len: usize, job: Job) -> napi::Result<Raw> {
        if code_len <= INLINE_COMPILE_MAX {
            run_no_user_code(env.raw(), &self.inner, mode, job)
        } else {
            run(env.raw(), &self.inner, mode, job)
        }
    }

    /// Housekeeping (a release) in the isolate's async order; nobody waits for it.
    fn in_turn(&self, work: impl FnOnce(&Arc<Isolate>) + Send + 'static) {
        self.inner.run_async_with(move |iso| Ok(work(iso)), |_: Result<(), Thrown>| {});
    }
}

#[napi]
impl NativeIsolate {
    #[napi(constructor)]
    pub fn new(memory_limit_bytes: f64) -> napi::Result<Self> {
        let host = current()?;
        let inner = Isolate::new(memory_limit_bytes as usize, host).map_err(napi::Error::from_reason)?;
        inner.retain_host_handle();
        Ok(NativeIsolate { inner })
    }

    #[napi]
    pub fn create_context(&self, env: Env, mode: u32) -> napi::Result<Raw> {
        run_no_user_code(env.raw(), &self.inner, mode, Box::new(|iso| iso.state().create_context().map(|id| Transfer::Number(id as f64))))
    }

    /// The Reference to a context's global object.
    #[napi]
    pub fn global(&self, env: Env, context: u32) -> napi::Result<Raw> {
        run(env.raw(), &self.inner, super::runner::SYNC, Box::new(move |iso| iso.state().global(iso, context)))
    }

    #[napi]
    pub fn release_context(&self, context: u32) {
        self.in_turn(move |iso| iso.state().release_context(context));
    }

    #[napi]
    pub fn compile_script(&self, env: Env, mode: u32, code: String, filename: String, line_offset: i32, column_offset: i32, produce_cached_data: bool) -> napi::Result<Raw> {
        let code_len = code.len();
        let source = source(code, filename, line_offset, column_offset);
        self.compile(env, mode, code_len, Box::new(move |iso| iso.state().compile_script(&source, produce_cached_data).map(|id| Transfer::Number(id as f64))))
    }

    /// The cachedData a script was compiled to produce (`produceCachedData`).
    #[napi]
    pub fn script_cached_data(&self, env: Env, script: u32) -> napi::Result<Option<Buffer>> {
        let data = self.inner.run_sync(move |iso| Ok(iso.state().script_cached_data(script))).map_err(|t| throw(env.raw(), &t))?;
        Ok(data.map(|d| Buffer::from(d.to_vec())))
    }

    /// The cachedData a module was compiled to produce (`produceCachedData`).
    #[napi]
    pub fn module_cached_data(&self, env: Env, module: u32) -> napi::Result<Option<Buffer>> {
        let data = self.inner.run_sync(move |iso| Ok(iso.state().module_cached_data(module))).map_err(|t| throw(env.raw(), &t))?;
        Ok(data.map(|d| Buffer::from(d.to_vec())))
    }

    #[napi]
    pub fn release_script(&self, script: u32) {
        self.in_turn(move |iso| iso.state().release_script(script));
    }

    /// `compileModule`: the module's id and its dependency specifiers, as one string (see
    /// lib/module.js `readCompiled`): `id` then, for each specifier, `;length;specifier`.
    #[napi]
    pub fn compile_module(&self, env: Env, mode: u32, code: String, filename: String, line_offset: i32, column_offset: i32, produce_cached_data: bool) -> napi::Result<Raw> {
        let code_len = code.len();
        let source = source(code, filename, line_offset, column_offset);
        self.compile(
            env,
            mode,
            code_len,
            Box::new(move |iso| {
                let (id, specifiers) = iso.state().compile_module(&source, produce_cached_data)?;
                let mut compiled = id.to_string();
                for specifier in specifiers {
                    compiled.push_str(&format!(";{};{}", specifier.encode_utf16().count(), specifier));
                }
                Ok(Transfer::String(compiled))
            }),
        )
    }

    /// `instantiate`: the module's imports bound as the host resolved them, one link per
    /// (referrers[i], specifiers[i]) → targets[i]. Runs no user code.
    #[napi]
    pub fn instantiate_module(&self, env: Env, mode: u32, module: u32, context: u32, referrers: Vec<u32>, specifiers: Vec<String>, targets: Vec<u32>) -> napi::Result<Raw> {
        let links: Vec<(u32, String, u32)> = referrers.into_iter().zip(specifiers).zip(targets).map(|((r, s), t)| (r, s, t)).collect();
        run_no_user_code(env.raw(), &self.inner, mode, Box::new(move |iso| iso.state().instantiate_module(context, module, &links).map(|_| Transfer::Undefined)))
    }

    #[napi]
    pub fn evaluate_module(&self, env: Env, mode: u32, module: u32, timeout: f64) -> napi::Result<Raw> {
        let options = run_options(timeout, 0, false);
        run(env.raw(), &self.inner, mode, Box::new(move |iso| iso.state().evaluate_module(iso, module, &options)))
    }

    /// `module.namespace`: a Reference to its namespace object.
    #[napi]
    pub fn module_namespace(&self, env: Env, module: u32) -> napi::Result<Raw> {
        run(env.raw(), &self.inner, super::runner::SYNC, Box::new(move |iso| iso.state().module_namespace(iso, module)))
    }

    #[napi]
    pub fn release_module(&self, module: u32) {
        self.in_turn(move |iso| iso.state().release_module(module));
    }

    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn run_script(&self, env: Env, mode: u32, script: u32, context: u32, timeout: f64, transfer: u32, promise: bool) -> napi::Result<Raw> {
        let options = run_options(timeout, transfer, promise);
        run(env.raw(), &self.inner, mode, Box::new(move |iso| iso.state().run_script(iso, script, context, &options)))
    }

    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn eval(
        &self,
        env: Env,
        mode: u32,
        context: u32,
        code: String,
        filename: String,
        line_offset: i32,
        column_offset: i32,
        timeout: f64,
        transfer: u32,
        promise: bool,
    ) -> napi::Result<Raw> {
        let source = source(code, filename, line_offset, column_offset);
        let options = run_options(timeout, transfer, promise);
        run(env.raw(), &self.inner, mode, Box::new(move |iso| iso.state().eval(iso, context, &source, &options)))
    }

    /// `evalClosure`; `args` are already in wire form (primitives, functions, `Wire`s).
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn eval_closure(
        &self,
        env: Env,
        mode: u32,
        context: u32,
        code: String,
        filename: String,
        args: Vec<Raw>,
        timeout: f64,
        transfer: u32,
        promise: bool,
    ) -> napi::Result<Raw> {
        let raw_env = env.raw();
        let args = args.iter().map(|a| from_js(raw_env, a.0)).collect::<napi::Result<Vec<_>>>()?;
        let source = source(code, filename, 0, 0);
        let options = run_options(timeout, transfer, promise);
        run(raw_env, &self.inner, mode, Box::new(move |iso| iso.state().eval_closure(iso, context, &source, &args, &options)))
    }

    #[napi]
    pub fn dispose(&self, env: Env) -> napi::Result<()> {
        self.inner.dispose().map_err(|thrown| throw(env.raw(), &thrown))
    }

    #[napi(getter)]
    pub fn is_disposed(&self) -> bool {
        self.inner.is_disposed()
    }

    /// Bytes QuickJS currently holds for this isolate (every allocation, counted by our
    /// allocator), and its limit: the real figures behind `getHeapStatistics()`.
    #[napi]
    pub fn heap(&self) -> Vec<f64> {
        vec![self.inner.limits.allocated() as f64, self.inner.limits.memory_limit() as f64]
    }

    /// `cpuTime` and `wallTime` in nanoseconds (as numbers; index.js makes bigints).
    #[napi]
    pub fn times(&self) -> Vec<f64> {
        let (cpu, wall) = self.inner.times();
        vec![cpu as f64, wall as f64]
    }

    /// Host-side handles into this isolate still alive (`referenceCount`).
    #[napi(getter)]
    pub fn reference_count(&self) -> u32 {
        self.inner.host_handle_count() as u32
    }
}

impl Drop for NativeIsolate {
    fn drop(&mut self) {
        self.inner.release_host_handle();
    }
}

/// `compileScript`'s `cachedData`: takes it into the code cache when it is genuine cachedData of
/// exactly this source (see `code_cache::accept`), so that the compile reads it instead of
/// parsing; false when it is rejected.
#[napi]
pub fn accept_cached_data(code: String, filename: String, line_offset: i32, column_offset: i32, data: Buffer, module: Option<bool>) -> bool {
    let source = source(code, filename, line_offset, column_offset);
    code_cache::accept(&if module == Some(true) { code_cache::module_key(&source) } else { source }, &data)
}
