//! Contexts (realms): creating one and preparing it for user code.

use std::sync::OnceLock;

use rquickjs::{qjs, Context, Ctx, Function, Object, Runtime, Value};

const PRELUDE: &str = include_str!("../sandbox/prelude.js");
const CLASSES: &str = include_str!("../sandbox/classes.js");

/// Creates a context with every standard intrinsic and our prelude installed.
pub fn create(runtime: &Runtime) -> rquickjs::Result<Context> {
    let context = Context::full(runtime)?;
    aim_stack_check(&context);
    enter(&context, |ctx| install_prelude(&ctx))?;
    Ok(context)
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
fn aim_stack_check(context: &Context) {
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
                let ptr = qjs::JS_WriteObject(raw, &mut len as *mut usize as _, compiled, qjs::JS_WRITE_OBJ_BYTECODE as i32);
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
    install.call::<_, Value>((prototype,))?;
    Ok(())
}

/// Installs the sandbox classes in `ctx`; returns their prototypes (see `sandbox::wrap`).
pub fn install_classes<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    static CLASSES_BYTECODE: OnceLock<Vec<u8>> = OnceLock::new();
    let install = load(ctx, bytecode(&CLASSES_BYTECODE, CLASSES, c"<isolated-quickjs prelude>"))?;
    install.call((super::sandbox::hooks(ctx)?,))
}
