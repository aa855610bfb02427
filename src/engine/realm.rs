//! Contexts (realms): creating one and preparing it for user code.

use std::sync::OnceLock;

use rquickjs::context::Intrinsic;
use rquickjs::{qjs, Context, Ctx, Function, Object, Runtime, Value};

const PRELUDE: &str = include_str!("../sandbox/prelude.js");
const JSON_ERRORS: &str = include_str!("../sandbox/json_errors.js");
const CLASSES: &str = include_str!("../sandbox/classes.js");

/// Creates a context with the standard intrinsics and our prelude installed.
pub fn create(runtime: &Runtime) -> rquickjs::Result<Context> {
    let mut making = NewContext::begin(runtime)?;
    while !making.step()? {}
    Ok(making.finish())
}

/// A context being made one step at a time, each a few to ~25 µs of QuickJS setup, so that a
/// thread waiting for its real work can make one between two checks for it (see `spare`).
/// Every step points QuickJS's stack check at the thread taking it.
pub struct NewContext {
    context: Context,
    taken: usize,
}

/// The steps after the base objects (~25 µs, made by `begin`), in the order `JS_NewContext`
/// adds them. QuickJS-ng's `performance` and `DOMException` are left out: a V8 context has
/// neither (they are Node's and the browser's), and they cost 5% of a context's creation.
const STEPS: [fn(&Ctx) -> rquickjs::Result<()>; 5] = [
    |ctx| {
        use rquickjs::context::intrinsic::{Date, Eval, Json, MapSet, Proxy, RegExp, RegExpCompiler};
        // SAFETY: adding intrinsics to a context that has run no code, as Context::custom does.
        unsafe { <(Date, Eval, RegExpCompiler, RegExp, Json, Proxy, MapSet) as Intrinsic>::add_intrinsic(ctx.as_raw()) };
        Ok(())
    },
    |ctx| {
        // SAFETY: as above.
        unsafe { <rquickjs::context::intrinsic::TypedArrays as Intrinsic>::add_intrinsic(ctx.as_raw()) };
        Ok(())
    },
    |ctx| {
        use rquickjs::context::intrinsic::{Promise, WeakRef};
        // SAFETY: as above.
        unsafe { <(Promise, WeakRef) as Intrinsic>::add_intrinsic(ctx.as_raw()) };
        Ok(())
    },
    install_prelude,
    |ctx| {
        bare_v8_globals(ctx);
        Ok(())
    },
];

impl NewContext {
    /// A context with QuickJS's base objects (the first step).
    pub fn begin(runtime: &Runtime) -> rquickjs::Result<NewContext> {
        Ok(NewContext { context: Context::base(runtime)?, taken: 0 })
    }

    /// Takes the next step; true when the context is complete (`finish`).
    pub fn step(&mut self) -> rquickjs::Result<bool> {
        if let Some(step) = STEPS.get(self.taken) {
            aim_stack_check(&self.context);
            enter(&self.context, |ctx| step(&ctx))?;
            self.taken += 1;
        }
        Ok(self.taken == STEPS.len())
    }

    /// Whether every step has been taken.
    pub fn is_complete(&self) -> bool {
        self.taken == STEPS.len()
    }

    /// The context, once `step` has returned true.
    pub fn finish(self) -> Context {
        debug_assert_eq!(self.taken, STEPS.len());
        self.context
    }
}

/// A minimal context that can compile code (for compiling scripts outside any user context).
pub fn compiler(runtime: &Runtime) -> rquickjs::Result<Context> {
    use rquickjs::context::intrinsic::{Eval, RegExpCompiler};
    // Regular expression literals are compiled by the parser, so it needs their compiler.
    let context = Context::custom::<(Eval, RegExpCompiler)>(runtime)?;
    aim_stack_check(&context);
    Ok(context)
}

/// Points QuickJS's stack check at the current thread. The isolate's owner calls this whenever
/// it enters; a context made before the runtime pointer was known needs it here too.
pub fn aim_stack_check(context: &Context) {
    // SAFETY: contexts are only made by the thread that owns the isolate.
    unsafe { qjs::JS_UpdateStackTop(context.get_runtime_ptr()) };
}

/// Runs `f` with a `Ctx` for `context`, on the thread that owns the isolate.
///
/// rquickjs's `Context::with` takes the runtime's lock for the whole call; an isolate re-enters
/// itself (a host callback calling back in), so we hold our own ownership lock instead
/// (`Isolate`) and enter contexts directly.
pub fn enter<R>(context: &Context, f: impl for<'js> FnOnce(Ctx<'js>) -> R) -> R {
    // SAFETY: the caller holds the isolate's ownership lock (every engine entry point runs under
    // it), so no other thread touches this runtime; `Ctx::from_raw` takes its own reference to
    // the context, released when the Ctx drops at the end of `f`.
    let ctx = unsafe { Ctx::from_raw(context.as_raw()) };
    f(ctx)
}

/// Bytecode of one of our sandbox sources, compiled once per process: reading bytecode is far
/// cheaper than parsing the source for every new context.
fn bytecode(cache: &'static OnceLock<Vec<u8>>, source: &str, filename: &std::ffi::CStr) -> &'static [u8] {
    cache.get_or_init(|| {
        let runtime = Runtime::new().expect("QuickJS runtime for the sandbox sources");
        let context = compiler(&runtime).expect("QuickJS context for the sandbox sources");
        context.with(|ctx| {
            let text = std::ffi::CString::new(source).expect("sandbox sources have no NUL");
            // SAFETY: compiles (COMPILE_ONLY) and serialises the source; both buffers are freed.
            unsafe {
                let raw = ctx.as_raw().as_ptr();
                let compiled = qjs::JS_Eval(raw, text.as_ptr(), source.len() as _, filename.as_ptr(), (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32);
                assert!(qjs::JS_VALUE_GET_TAG(compiled) != qjs::JS_TAG_EXCEPTION, "the sandbox sources must compile");
                let mut len = 0usize;
                // Without the source: our functions print as `function f() { [native code] }`,
                // as V8's builtins do, and read back faster. (Positions stay: frames from these
                // sources are recognised by their filename and left out of stacks.)
                let flags = qjs::JS_WRITE_OBJ_BYTECODE | qjs::JS_WRITE_OBJ_STRIP_SOURCE;
                let ptr = qjs::JS_WriteObject(raw, &mut len as *mut usize as _, compiled, flags as i32);
                let bytes = std::slice::from_raw_parts(ptr, len).to_vec();
                qjs::js_free(raw, ptr as _);
                qjs::JS_FreeValue(raw, compiled);
                bytes
            }
        })
    })
}

/// Evaluates cached bytecode in `ctx`; the result is the function the source evaluates to.
fn load<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> rquickjs::Result<Function<'js>> {
    // SAFETY: the bytecode was produced by `bytecode()` with this very build of QuickJS.
    let value = unsafe {
        let raw = ctx.as_raw().as_ptr();
        let function = qjs::JS_ReadObject(raw, bytecode.as_ptr(), bytecode.len() as _, qjs::JS_READ_OBJ_BYTECODE as i32);
        if qjs::JS_VALUE_GET_TAG(function) == qjs::JS_TAG_EXCEPTION {
            return Err(rquickjs::Error::Exception);
        }
        let value = qjs::JS_EvalFunction(raw, function);
        if qjs::JS_VALUE_GET_TAG(value) == qjs::JS_TAG_EXCEPTION {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), value)
    };
    value.get()
}

fn install_prelude(ctx: &Ctx) -> rquickjs::Result<()> {
    static PRELUDE_BYTECODE: OnceLock<Vec<u8>> = OnceLock::new();
    let install = load(ctx, bytecode(&PRELUDE_BYTECODE, PRELUDE, c"<isolated-quickjs prelude>"))?;
    let error: Object = ctx.globals().get("Error")?;
    let prototype: Value = error.get("prototype")?;
    // SAFETY: a plain C function made on a live context; the Value takes its reference.
    let load_json_errors = unsafe {
        let raw = ctx.as_raw().as_ptr();
        Value::from_raw(ctx.clone(), qjs::JS_NewCFunction2(raw, Some(load_json_errors), c"loadJsonErrors".as_ptr(), 0, qjs::JSCFunctionEnum_JS_CFUNC_generic, 0))
    };
    install.call::<_, Value>((prototype, load_json_errors))?;
    Ok(())
}

/// The prelude's `loadJsonErrors()`: json_errors.js in the calling context, loaded at the first
/// JSON.parse failure there (undefined if it cannot be loaded; the prelude then keeps QuickJS's
/// message).
unsafe extern "C" fn load_json_errors(ctx: *mut qjs::JSContext, _this: qjs::JSValue, _argc: i32, _argv: *mut qjs::JSValue) -> qjs::JSValue {
    static JSON_ERRORS_BYTECODE: OnceLock<Vec<u8>> = OnceLock::new();
    let Some(raw) = std::ptr::NonNull::new(ctx) else { return qjs::JS_UNDEFINED };
    // SAFETY: called by QuickJS on a live context, inside a call the isolate's owner runs.
    let ctx = unsafe { Ctx::from_raw(raw) };
    match load(&ctx, bytecode(&JSON_ERRORS_BYTECODE, JSON_ERRORS, c"<isolated-quickjs prelude>")) {
        // SAFETY: a new reference for the caller, which owns the returned value.
        Ok(function) => unsafe { qjs::JS_DupValue(ctx.as_raw().as_ptr(), function.as_raw()) },
        Err(_) => {
            let _ = ctx.catch();
            qjs::JS_UNDEFINED
        }
    }
}

/// The methods of V8's `console`. Without an inspector attached they do nothing, and isolated-vm
/// attaches none, so code that logs runs silently there: it must not fail here either.
const CONSOLE_METHODS: [&std::ffi::CStr; 23] = [
    c"debug", c"error", c"info", c"log", c"warn", c"dir", c"dirxml", c"table", c"trace", c"group", c"groupCollapsed", c"groupEnd",
    c"clear", c"count", c"countReset", c"assert", c"profile", c"profileEnd", c"time", c"timeLog", c"timeEnd", c"timeStamp", c"context",
];

unsafe extern "C" fn do_nothing(_ctx: *mut qjs::JSContext, _this: qjs::JSValue, _argc: i32, _argv: *mut qjs::JSValue) -> qjs::JSValue {
    qjs::JS_UNDEFINED
}

/// Makes the globals those of a bare V8 context, as isolated-vm's contexts have them: V8's
/// `console` (natively made: a JS-built one costs 20 µs a context) and none of the host functions
/// QuickJS-ng adds (`atob`, `btoa`, `queueMicrotask`: V8 leaves those to the embedder).
fn bare_v8_globals(ctx: &Ctx) {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: plain QuickJS calls on a live context; every value made is handed to (and then
    // owned by) a property, or freed.
    unsafe {
        let global = qjs::JS_GetGlobalObject(raw);
        for name in [c"atob", c"btoa", c"queueMicrotask"] {
            let atom = qjs::JS_NewAtom(raw, name.as_ptr());
            qjs::JS_DeleteProperty(raw, global, atom, 0);
            qjs::JS_FreeAtom(raw, atom);
        }
        let prototype = qjs::JS_NewObject(raw);
        let tag = qjs::JS_NewStringLen(raw, c"console".as_ptr(), 7);
        let symbol = qjs::JS_GetPropertyStr(raw, global, c"Symbol".as_ptr());
        let tag_symbol = qjs::JS_GetPropertyStr(raw, symbol, c"toStringTag".as_ptr());
        let tag_atom = qjs::JS_ValueToAtom(raw, tag_symbol);
        qjs::JS_DefinePropertyValue(raw, prototype, tag_atom, tag, qjs::JS_PROP_CONFIGURABLE as i32);
        qjs::JS_FreeAtom(raw, tag_atom);
        qjs::JS_FreeValue(raw, tag_symbol);
        qjs::JS_FreeValue(raw, symbol);
        let console = qjs::JS_NewObjectProto(raw, prototype);
        qjs::JS_FreeValue(raw, prototype);
        for name in CONSOLE_METHODS {
            let method = qjs::JS_NewCFunction2(raw, Some(do_nothing), name.as_ptr(), 0, qjs::JSCFunctionEnum_JS_CFUNC_generic, 0);
            qjs::JS_DefinePropertyValueStr(raw, console, name.as_ptr(), method, qjs::JS_PROP_C_W_E as i32);
        }
        let flags = (qjs::JS_PROP_CONFIGURABLE | qjs::JS_PROP_WRITABLE) as i32;
        qjs::JS_DefinePropertyValueStr(raw, global, c"console".as_ptr(), console, flags);
        qjs::JS_FreeValue(raw, global);
    }
}

/// Installs the sandbox classes in `ctx`; returns their prototypes (see `sandbox::wrap`).
pub fn install_classes<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    static CLASSES_BYTECODE: OnceLock<Vec<u8>> = OnceLock::new();
    let install = load(ctx, bytecode(&CLASSES_BYTECODE, CLASSES, c"<isolated-quickjs prelude>"))?;
    install.call((super::sandbox::hooks(ctx)?,))
}
