//! Contexts (realms): creating one and preparing it for user code.

use rquickjs::{Context, Ctx, Function, Object, Runtime, Value};

const PRELUDE: &str = include_str!("../sandbox/prelude.js");

/// Creates a context with every standard intrinsic and our prelude installed.
pub fn create(runtime: &Runtime) -> rquickjs::Result<Context> {
    let context = Context::full(runtime)?;
    enter(&context, |ctx| install_prelude(&ctx))?;
    Ok(context)
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

fn install_prelude(ctx: &Ctx) -> rquickjs::Result<()> {
    let install: Function = ctx.eval(PRELUDE)?;
    let error: Object = ctx.globals().get("Error")?;
    let prototype: Value = error.get("prototype")?;
    install.call::<_, Value>((prototype,))?;
    Ok(())
}
