//! Modules (`compileModule`): compiled once per isolate, instantiated in one context with the
//! dependencies the host's resolve callback chose, evaluated once.
//!
//! QuickJS finds a module's imports by name through a runtime-wide loader; isolated-vm lets the
//! host pick a `Module` for each specifier, and two modules may well share a filename. So the
//! patched QuickJS (`module-requests.patch`) lists a module's requests and takes the target of
//! each from us (`JS_SetModuleRequestTarget`); no name lookup is involved.
//!
//! A module is compiled in a compiler context of ours (its bytecode kept), and read into the
//! context it is instantiated in: QuickJS modules belong to one context, as V8's do once
//! instantiated. The QuickJS module objects are owned by that context (its module list); we only
//! keep pointers, valid while the context lives.

use std::sync::Arc;

use rquickjs::{qjs, Context, Ctx};

use super::{code_cache, enter, js_error, read_bytecode_with, realm, write_bytecode, Fallback, IsolateState, Isolate, RunOptions, Source, Thrown, Transfer};

extern "C" {
    fn JS_GetModuleRequestCount(m: *mut qjs::JSModuleDef) -> i32;
    fn JS_GetModuleRequest(ctx: *mut qjs::JSContext, m: *mut qjs::JSModuleDef, index: i32) -> qjs::JSAtom;
    fn JS_SetModuleRequestTarget(m: *mut qjs::JSModuleDef, index: i32, target: *mut qjs::JSModuleDef) -> i32;
    fn JS_LinkModule(ctx: *mut qjs::JSContext, m: *mut qjs::JSModuleDef) -> i32;
}

/// `JS_EVAL_FLAG_NO_RESOLVE` and `JS_READ_OBJ_NO_RESOLVE` (module-requests.patch): compile or
/// read a module without loading its imports.
const NO_RESOLVE: u32 = 1 << 9;

/// Compile-only modules stay in their context's module list; the compiler context is replaced
/// after this many, so that they do not pile up.
const COMPILES_PER_COMPILER: u32 = 64;

pub const NOT_INSTANTIATED: &str = "Module has not been instantiated.";
pub const UNINSTANTIATED: &str = "Module is uninstantiated";
pub const RELEASED: &str = "Module has been released";

pub struct ModuleRecord {
    bytecode: Arc<[u8]>,
    /// `produceCachedData`: the sealed bytecode (see `code_cache::seal`).
    cached_data: Option<Arc<[u8]>>,
    /// Where the module lives once read into a context.
    instance: Option<Instance>,
    /// `instantiate` was called on this module (isolated-vm evaluates only those).
    instantiated: bool,
    /// `evaluate` was called on this module (isolated-vm gives the namespace of those only).
    evaluated: bool,
}

#[derive(Clone, Copy)]
struct Instance {
    context: u32,
    def: *mut qjs::JSModuleDef,
    /// Resolved and linked: QuickJS keeps it whatever happens to other modules.
    linked: bool,
}

fn module_def(value: &rquickjs::Value<'_>) -> *mut qjs::JSModuleDef {
    // SAFETY: reading the pointer of a value whose tag is JS_TAG_MODULE (checked by callers).
    unsafe { qjs::JS_VALUE_GET_PTR(value.as_raw()) as *mut qjs::JSModuleDef }
}

/// The specifier of request `index` of `def`.
fn request(ctx: &Ctx<'_>, def: *mut qjs::JSModuleDef, index: i32) -> Option<String> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `def` is a live module of this runtime; the atom and the string are freed here.
    unsafe {
        let atom = JS_GetModuleRequest(raw, def, index);
        let mut len = 0usize;
        let ptr = qjs::JS_AtomToCStringLen(raw, &mut len as *mut usize as _, atom);
        qjs::JS_FreeAtom(raw, atom);
        if ptr.is_null() {
            return None;
        }
        let name = String::from_utf8_lossy(std::slice::from_raw_parts(ptr as *const u8, len)).into_owned();
        qjs::JS_FreeCString(raw, ptr);
        Some(name)
    }
}

fn request_count(def: *mut qjs::JSModuleDef) -> i32 {
    // SAFETY: `def` is a live module.
    unsafe { JS_GetModuleRequestCount(def) }
}

/// The specifiers `def` imports, once each, in source order.
fn requests(ctx: &Ctx<'_>, def: *mut qjs::JSModuleDef) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in (0..request_count(def)).filter_map(|i| request(ctx, def, i)) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// `import()` in an isolate fails as in isolated-vm (which gives V8 no loader): a module
/// normalizer that refuses every name. (Static imports never reach it: see the module doc.)
pub(super) fn refuse_dynamic_import(rt: *mut qjs::JSRuntime) {
    unsafe extern "C" fn refuse(ctx: *mut qjs::JSContext, _base: *const std::ffi::c_char, _name: *const std::ffi::c_char, _opaque: *mut std::ffi::c_void) -> *mut std::ffi::c_char {
        // SAFETY: called by QuickJS with a live context; the error is left pending for it.
        unsafe { qjs::JS_ThrowPlainError(ctx, c"Not supported".as_ptr()) };
        std::ptr::null_mut()
    }
    // SAFETY: a live runtime, owned by the caller.
    unsafe { qjs::JS_SetModuleLoaderFunc(rt, Some(refuse), None, std::ptr::null_mut()) };
}

impl IsolateState {
    fn module_compiler(&self) -> Context {
        let mut slot = self.module_compiler.borrow_mut();
        if let Some((context, uses)) = slot.as_mut() {
            if *uses < COMPILES_PER_COMPILER {
                *uses += 1;
                return context.clone();
            }
        }
        let context = realm::compiler(&self.runtime).expect("QuickJS could not create a context");
        self.note_runtime(&context);
        *slot = Some((context.clone(), 1));
        context
    }

    /// `compileModule`: syntax errors now, as isolated-vm reports them; returns the module's id
    /// and its dependency specifiers.
    /// `compileModule`: the module's id and its import specifiers. Its bytecode is kept by
    /// source, as scripts' is (`code_cache`, under `module_key`), and sealed into cachedData on
    /// request (`produce_cached_data`).
    pub fn compile_module(&self, source: &Source, produce_cached_data: bool) -> Result<(u32, Vec<String>), Thrown> {
        let key = code_cache::module_key(source);
        let compiler = self.module_compiler();
        let (bytecode, requests) = enter(&compiler, |ctx| match code_cache::get(&key) {
            Some(bytecode) => {
                let module = read_bytecode_with(&ctx, &bytecode, NO_RESOLVE)?;
                Ok::<_, Thrown>((bytecode, requests(&ctx, module_def(&module))))
            }
            None => {
                let module = self.compile_as(&ctx, source, qjs::JS_EVAL_TYPE_MODULE | NO_RESOLVE)?;
                let requests = requests(&ctx, module_def(&module));
                let bytecode = write_bytecode(&ctx, &module)?;
                code_cache::put(&key, bytecode.clone());
                Ok((bytecode, requests))
            }
        })?;
        let cached_data = produce_cached_data.then(|| Arc::from(code_cache::seal(&key, &bytecode)));
        let record = ModuleRecord { bytecode, cached_data, instance: None, instantiated: false, evaluated: false };
        Ok((self.modules.borrow_mut().insert(record), requests))
    }

    /// The cachedData a module was compiled to produce (`produceCachedData`).
    pub fn module_cached_data(&self, id: u32) -> Option<Arc<[u8]>> {
        self.modules.borrow().get(id).and_then(|m| m.cached_data.clone())
    }

    pub fn release_module(&self, id: u32) {
        self.modules.borrow_mut().remove(id);
    }

    /// The module `id` in `context_id`, read in there on first need.
    fn module_in(&self, ctx: &Ctx<'_>, context_id: u32, id: u32) -> Result<*mut qjs::JSModuleDef, Thrown> {
        let (bytecode, instance) = {
            let modules = self.modules.borrow();
            let record = modules.get(id).ok_or_else(|| Thrown::plain(RELEASED))?;
            (record.bytecode.clone(), record.instance)
        };
        match instance {
            Some(instance) if instance.context == context_id && self.contexts.borrow().get(context_id).is_some() => Ok(instance.def),
            Some(_) => Err(Thrown::plain("Module belongs to another context")),
            None => {
                let module = read_bytecode_with(ctx, &bytecode, NO_RESOLVE)?;
                let def = module_def(&module);
                if let Some(record) = self.modules.borrow_mut().get_mut(id) {
                    record.instance = Some(Instance { context: context_id, def, linked: false });
                }
                Ok(def)
            }
        }
    }

    /// `instantiate`: reads the module and its dependencies into the context, binds each import
    /// to the module the host resolved it to (`links`: referrer, specifier, target), and links
    /// them, so that a missing export fails here, as in V8.
    pub fn instantiate_module(&self, context_id: u32, root: u32, links: &[(u32, String, u32)]) -> Result<(), Thrown> {
        if self.modules.borrow().get(root).is_some_and(|r| r.instantiated) {
            return Ok(()); // (again: no effect, as in isolated-vm)
        }
        let context = self.context(context_id)?;
        let mut graph = vec![root];
        for (referrer, _, target) in links {
            for id in [*referrer, *target] {
                if !graph.contains(&id) {
                    graph.push(id);
                }
            }
        }
        enter(&context, |ctx| {
            let raw = ctx.as_raw().as_ptr();
            let mut defs = Vec::with_capacity(graph.len());
            for id in &graph {
                defs.push(self.module_in(&ctx, context_id, *id)?);
            }
            let def_of = |id: u32| defs[graph.iter().position(|g| *g == id).expect("in the graph")];
            for (referrer, specifier, target) in links {
                let from = def_of(*referrer);
                for i in 0..request_count(from) {
                    if request(&ctx, from, i).as_deref() == Some(specifier.as_str()) {
                        // SAFETY: both modules live in this context. (-1 for a module linked
                        // earlier: its imports stay bound.)
                        unsafe { JS_SetModuleRequestTarget(from, i, def_of(*target)) };
                    }
                }
            }
            let root_def = def_of(root);
            // SAFETY: the root module lives in this context; JS_ResolveModule only borrows it.
            let resolved = unsafe { qjs::JS_ResolveModule(raw, qjs::JS_MKPTR(qjs::JS_TAG_MODULE, root_def as _)) };
            if resolved < 0 {
                // QuickJS has freed this context's modules that were not resolved.
                self.forget_unlinked(context_id);
                return Err(js_error(&ctx));
            }
            // SAFETY: a resolved module of this context.
            if unsafe { JS_LinkModule(raw, root_def) } < 0 {
                return Err(js_error(&ctx));
            }
            let mut modules = self.modules.borrow_mut();
            for id in &graph {
                if let Some(Instance { linked, .. }) = modules.get_mut(*id).and_then(|r| r.instance.as_mut()) {
                    *linked = true;
                }
            }
            if let Some(record) = modules.get_mut(root) {
                record.instantiated = true;
            }
            Ok(())
        })
    }

    /// A released context takes its modules with it.
    pub(super) fn forget_modules_of(&self, context_id: u32) {
        for record in self.modules.borrow_mut().iter_mut() {
            if record.instance.is_some_and(|i| i.context == context_id) {
                record.instance = None;
            }
        }
    }

    fn forget_unlinked(&self, context_id: u32) {
        let mut modules = self.modules.borrow_mut();
        for record in modules.iter_mut() {
            if record.instance.is_some_and(|i| i.context == context_id && !i.linked) {
                record.instance = None;
            }
        }
    }

    /// The context and QuickJS module of a module that passed `ready` (else `missing`).
    fn instance(&self, id: u32, ready: impl Fn(&ModuleRecord) -> bool, missing: &str) -> Result<(Context, Instance), Thrown> {
        let instance = {
            let modules = self.modules.borrow();
            let record = modules.get(id).ok_or_else(|| Thrown::plain(RELEASED))?;
            match record.instance {
                Some(instance) if ready(record) => instance,
                _ => return Err(Thrown::plain(missing)),
            }
        };
        let context = self.context(instance.context)?;
        Ok((context, instance))
    }

    /// `evaluate`: runs the module once; later calls give `undefined`, as isolated-vm's do.
    pub fn evaluate_module(&self, isolate: &Arc<Isolate>, id: u32, options: &RunOptions) -> Result<Transfer, Thrown> {
        if self.modules.borrow().get(id).is_some_and(|r| r.evaluated) {
            return Ok(Transfer::Undefined);
        }
        let (context, instance) = self.instance(id, |r| r.instantiated, UNINSTANTIATED)?;
        if let Some(record) = self.modules.borrow_mut().get_mut(id) {
            record.evaluated = true;
        }
        // The evaluation's promise is not waited for, as in isolated-vm: the microtasks run, a
        // rejection by then is the error, and a top-level await still pending is left to run.
        let options = RunOptions { promise: false, ..*options };
        enter(&context, |ctx| {
            self.run_and_finish(isolate, &ctx, &options, Fallback::Undefined, || {
                // SAFETY: JS_EvalFunction consumes a reference to the module: hand it a new one.
                let raw = unsafe {
                    let module = qjs::JS_DupValue(ctx.as_raw().as_ptr(), qjs::JS_MKPTR(qjs::JS_TAG_MODULE, instance.def as _));
                    qjs::JS_EvalFunction(ctx.as_raw().as_ptr(), module)
                };
                if unsafe { qjs::JS_VALUE_GET_TAG(raw) } == qjs::JS_TAG_EXCEPTION {
                    return Err(js_error(&ctx));
                }
                // SAFETY: we own the fresh value (the evaluation's promise).
                Ok(unsafe { rquickjs::Value::from_raw(ctx.clone(), raw) })
            })
        })
        .map(|_| Transfer::Undefined)
    }

    /// `namespace`: a Reference to the module's namespace object, once `evaluate` was called on
    /// it (isolated-vm's rule: before, it reports the module as not instantiated).
    pub fn module_namespace(&self, isolate: &Arc<Isolate>, id: u32) -> Result<Transfer, Thrown> {
        let (context, instance) = self.instance(id, |r| r.evaluated, NOT_INSTANTIATED)?;
        enter(&context, |ctx| {
            // SAFETY: a linked module of this context; the namespace value is ours to own.
            let raw = unsafe { qjs::JS_GetModuleNamespace(ctx.as_raw().as_ptr(), instance.def) };
            if unsafe { qjs::JS_VALUE_GET_TAG(raw) } == qjs::JS_TAG_EXCEPTION {
                return Err(js_error(&ctx));
            }
            let namespace = unsafe { rquickjs::Value::from_raw(ctx.clone(), raw) };
            Ok(Transfer::Reference(isolate.new_handle(&ctx, namespace)))
        })
    }
}
