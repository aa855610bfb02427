//! Engine-core tests: the wire codec, limits and the thread protocol, without Node.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rquickjs::{Context, Ctx, Runtime, Value};

use super::errors::{text, Thrown};
use super::host::{Host, HostCall, HostRequest, HostResult};
use super::isolate::Isolate;
use super::realm::enter;
use super::state::{RunOptions, Source};
use super::transfer::{Mode, Transfer};
use super::v8_wire::{self, class, CloneError};

/// A host with no functions: what the core needs to run without Node.
struct NoHost {
    posted: AtomicUsize,
}

impl Host for NoHost {
    fn is_host_thread(&self) -> bool {
        false
    }
    fn call_now(&self, _: HostCall) -> HostResult {
        Err(Thrown::plain("no host"))
    }
    fn post(&self, request: HostRequest) {
        self.posted.fetch_add(1, Ordering::Relaxed);
        if let HostRequest::Call { reply: Some(reply), .. } = request {
            reply.fill(Err(Thrown::plain("no host")));
        }
    }
    fn serve_one(&self) -> bool {
        false
    }
}

fn isolate(limit_mb: usize) -> Arc<Isolate> {
    Isolate::new(limit_mb << 20, Arc::new(NoHost { posted: AtomicUsize::new(0) })).unwrap()
}

fn with_ctx<R>(f: impl for<'js> FnOnce(Ctx<'js>) -> R) -> R {
    let runtime = Runtime::new().unwrap();
    let context = Context::full(&runtime).unwrap();
    let r = enter(&context, f);
    drop(context);
    r
}

fn eval_source(code: &str) -> Source {
    Source { code: code.into(), filename: "<test>".into(), line_offset: 0, column_offset: 0 }
}

fn eval(isolate: &Arc<Isolate>, context: u32, code: &str, options: RunOptions) -> Result<Transfer, Thrown> {
    let source = eval_source(code);
    isolate.run_sync(move |iso| iso.state().eval(iso, context, &source, &options))
}

#[test]
fn class_ids_match_this_quickjs() {
    with_ctx(|ctx| {
        let check = |code: &str, id: u32| {
            let v: Value = ctx.eval(code).unwrap();
            assert_eq!(v8_wire::class_id(&v), id, "{code}");
        };
        check("({})", class::OBJECT);
        check("[]", class::ARRAY);
        check("new Error()", class::ERROR);
        check("new Number(1)", class::NUMBER);
        check("new Date()", class::DATE);
        check("/x/", class::REGEXP);
        check("new ArrayBuffer(1)", class::ARRAY_BUFFER);
        check("new Uint8ClampedArray(1)", class::UINT8C_ARRAY);
        check("new Float64Array(1)", class::FLOAT64_ARRAY);
        check("new DataView(new ArrayBuffer(1))", class::DATAVIEW);
        check("Object(1n)", class::BIG_INT);
        check("new Map()", class::MAP);
        check("new Set()", class::SET);
        check("new Proxy({}, {})", class::PROXY);
    });
}

/// Writes `code`'s value, reads it back, and compares a canonical rendering.
fn round_trip(code: &str, render: &str) {
    with_ctx(|ctx| {
        let v: Value = ctx.eval(code).unwrap();
        let bytes = v8_wire::write(&ctx, &v).unwrap();
        let back = v8_wire::read(&ctx, &bytes).unwrap();
        ctx.globals().set("original", v).unwrap();
        ctx.globals().set("copy", back).unwrap();
        let same: bool = ctx.eval(render).unwrap();
        let shown: String = ctx.eval("JSON.stringify([original, copy, Object.is(copy.f, -0)])").unwrap_or_default();
        assert!(same, "{code}: {shown}");
    });
}

#[test]
fn wire_round_trips() {
    round_trip("({ a: 1, b: 'x', c: [1, 2, 3], d: null, e: undefined, f: -0, g: 1.5 })", "JSON.stringify(original) === JSON.stringify(copy) && Object.is(copy.f, -0) && 'e' in copy");
    round_trip("'héllo ✓ \\ud800'", "original === copy");
    round_trip("[1, , 3]", "copy.length === 3 && !(1 in copy) && copy[2] === 3");
    round_trip("(() => { const a = [1]; a.extra = 'x'; return a })()", "copy.extra === 'x' && copy[0] === 1");
    round_trip("new Date(12345)", "copy instanceof Date && copy.getTime() === 12345");
    round_trip("/ab+c/gi", "copy instanceof RegExp && copy.source === 'ab+c' && copy.flags === 'gi'");
    round_trip("new Map([[1, { x: 2 }], ['k', 'v']])", "copy instanceof Map && copy.get(1).x === 2 && copy.get('k') === 'v'");
    round_trip("new Set([1, 'a'])", "copy instanceof Set && copy.has(1) && copy.has('a')");
    round_trip("[123n, -(2n ** 100n), 0n]", "copy[0] === 123n && copy[1] === -(2n ** 100n) && copy[2] === 0n");
    round_trip("[new Number(3), new String('s'), new Boolean(false), Object(5n)]", "copy[0] instanceof Number && copy[0].valueOf() === 3 && copy[1].valueOf() === 's' && copy[2].valueOf() === false && copy[3].valueOf() === 5n");
    round_trip("new Uint16Array([1, 2, 65535])", "copy instanceof Uint16Array && copy.join() === '1,2,65535'");
    round_trip("new Float64Array([0.5, -1])", "copy instanceof Float64Array && copy[0] === 0.5");
    round_trip("new DataView(new Uint8Array([1, 2, 3]).buffer, 1)", "copy instanceof DataView && copy.byteLength === 2 && copy.getUint8(0) === 2");
    round_trip("new Uint8Array([9, 8]).buffer", "copy instanceof ArrayBuffer && new Uint8Array(copy)[1] === 8");
    round_trip("new TypeError('bad')", "copy instanceof TypeError && copy.message === 'bad'");
    round_trip("(() => { const o = { n: 1 }; o.self = o; return [o, o] })()", "copy[0] === copy[1] && copy[0].self === copy[0]");
    round_trip("({ ['__proto__']: 1 })", "Object.getPrototypeOf(copy) === Object.prototype && Object.keys(copy).length === 1");
}

#[test]
fn uncloneable_values_name_themselves() {
    with_ctx(|ctx| {
        for (code, printed) in [("({ f() {} })", "f() {}"), ("Symbol('q')", "Symbol(q)"), ("[function named() {}]", "function named() {}"), ("new WeakMap()", "#<WeakMap>")] {
            let v: Value = ctx.eval(code).unwrap();
            match v8_wire::write(&ctx, &v) {
                Err(CloneError::NotCloneable(p)) => assert_eq!(p, printed),
                other => panic!("{code}: {other:?}"),
            }
        }
    });
}

#[test]
fn deep_nesting_is_a_clean_error() {
    with_ctx(|ctx| {
        let v: Value = ctx.eval("let o = {}; for (let i = 0; i < 100000; i++) o = { o }; o").unwrap();
        assert!(matches!(v8_wire::write(&ctx, &v), Err(CloneError::TooDeep)));
        let mut bytes = vec![0xFF, 15];
        bytes.extend(std::iter::repeat_n(b'o', 100_000));
        assert!(matches!(v8_wire::read(&ctx, &bytes), Err(CloneError::TooDeep)));
    });
}

#[test]
fn malformed_input_is_an_error_never_a_crash() {
    with_ctx(|ctx| {
        let good = {
            let v: Value = ctx.eval("({ a: [1, 'two', { b: new Date(0) }], m: new Map([[1, 2]]), t: new Int32Array([1, 2]) })").unwrap();
            v8_wire::write(&ctx, &v).unwrap()
        };
        // Every truncation fails cleanly.
        for end in 0..good.len() {
            let _ = v8_wire::read(&ctx, &good[..end]);
        }
        // Deterministic pseudo-random corruption: errors or values, never a crash.
        let mut seed: u64 = 0x9E3779B97F4A7C15;
        for _ in 0..3000 {
            let mut bytes = good.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed as usize) % bytes.len();
                bytes[i] = (seed >> 32) as u8;
            }
            let _ = v8_wire::read(&ctx, &bytes);
        }
        for bad in [&[0xFF, 15, b'"', 0xFF, 0xFF, 0xFF, 0xFF, 0x0F][..], &[0xFF, 15, b'^', 7], &[0xFF, 99, b'0'], &[0xFF, 15, b'c', 3, 0, 0, 0], &[0xFF, 15, b'\\', 1, 200]] {
            assert!(v8_wire::read(&ctx, bad).is_err(), "{bad:?}");
        }
    });
}

#[test]
fn eval_and_timeout_keep_the_isolate_usable() {
    let isolate = isolate(64);
    let context = isolate.run_sync(|iso| iso.state().create_context()).unwrap();
    let r = eval(&isolate, context, "1 + 1", RunOptions::default()).unwrap();
    assert!(matches!(r, Transfer::Number(n) if n == 2.0));
    let err = eval(&isolate, context, "for (;;) {}", RunOptions { timeout_ms: Some(20.0), ..Default::default() }).unwrap_err();
    assert_eq!(err.message(), text::TIMEOUT);
    let r = eval(&isolate, context, "'ok'", RunOptions::default()).unwrap();
    assert!(matches!(r, Transfer::String(s) if s == "ok"));
    isolate.dispose().unwrap();
}

#[test]
fn memory_limit_disposes() {
    let isolate = isolate(8);
    let context = isolate.run_sync(|iso| iso.state().create_context()).unwrap();
    let err = eval(&isolate, context, "const a = []; for (;;) a.push(new Array(1000).fill(a.length))", RunOptions::default()).unwrap_err();
    assert_eq!(err.message(), text::MEMORY_LIMIT);
    assert!(isolate.is_disposed());
}

#[test]
fn async_work_runs_in_order_on_the_isolate_thread() {
    let isolate = isolate(64);
    let context = isolate.run_sync(|iso| iso.state().create_context()).unwrap();
    eval(&isolate, context, "globalThis.log = []", RunOptions::default()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..50 {
        let source = eval_source(&format!("log.push({i}); log.length"));
        let tx = tx.clone();
        isolate.run_async_with(
            move |iso| iso.state().eval(iso, context, &source, &RunOptions::default()),
            move |r| tx.send(r.map(|t| matches!(t, Transfer::Number(n) if n == (i + 1) as f64))).unwrap(),
        );
    }
    for _ in 0..50 {
        assert!(rx.recv().unwrap().unwrap());
    }
    let r = eval(&isolate, context, "log.join()", RunOptions { mode: Mode::Copy, ..Default::default() }).unwrap();
    assert!(matches!(r, Transfer::String(s) if s == (0..50).map(|i| i.to_string()).collect::<Vec<_>>().join(",")));
    isolate.dispose().unwrap();
}

#[test]
fn dispose_stops_an_infinite_loop_on_the_isolate_thread() {
    let isolate = isolate(64);
    let context = isolate.run_sync(|iso| iso.state().create_context()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let source = eval_source("for (;;) {}");
    isolate.run_async_with(move |iso| iso.state().eval(iso, context, &source, &RunOptions::default()), move |r| tx.send(r.map(|_| ())).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(20));
    isolate.dispose().unwrap();
    let err = rx.recv_timeout(std::time::Duration::from_secs(2)).unwrap().unwrap_err();
    assert_eq!(err.message(), text::DISPOSED_DURING);
    assert_eq!(isolate.run_sync(|_| Ok(())).unwrap_err().message(), text::DISPOSED_SYNC);
}

#[test]
fn spare_runtimes_are_fresh_and_take_the_isolates_limit() {
    // Spares are built in the background once isolates are being made: wait for one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let isolate = loop {
        let candidate = isolate(8);
        if candidate.run_sync(|iso| Ok(iso.state().has_ready_context())).unwrap() {
            break candidate;
        }
        candidate.dispose().unwrap();
        assert!(std::time::Instant::now() < deadline, "no spare runtime was built");
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    assert_eq!(isolate.limits.memory_limit(), 8 << 20);
    let made_ahead = isolate.run_sync(|iso| iso.state().create_context()).unwrap();
    let made_now = isolate.run_sync(|iso| iso.state().create_context()).unwrap();
    let copy = || RunOptions { mode: Mode::Copy, ..Default::default() };
    // The context made ahead has what a context made now has, and nothing of the other's.
    let globals = "Object.getOwnPropertyNames(globalThis).sort().join()";
    let ahead = eval(&isolate, made_ahead, globals, copy()).unwrap();
    let now = eval(&isolate, made_now, globals, copy()).unwrap();
    assert!(matches!((&ahead, &now), (Transfer::String(a), Transfer::String(b)) if a == b && a.contains("console")));
    eval(&isolate, made_ahead, "globalThis.mark = 1", RunOptions::default()).unwrap();
    assert!(matches!(eval(&isolate, made_now, "typeof mark", copy()).unwrap(), Transfer::String(s) if s == "undefined"));
    // The isolate's own limit holds.
    let err = eval(&isolate, made_ahead, "const a = []; for (;;) a.push(new Array(1000).fill(a.length))", RunOptions::default()).unwrap_err();
    assert_eq!(err.message(), text::MEMORY_LIMIT);
    assert!(isolate.is_disposed());
}

#[test]
fn contexts_and_spares_are_made_in_several_steps_with_the_same_result() {
    use super::limits::Limits;
    use super::realm::{self, NewContext};
    use super::state::IsolateState;
    // A context made step by step (as idle threads make spares) ends up as one made at once.
    let runtime = Runtime::new().unwrap();
    let mut making = NewContext::begin(&runtime).unwrap();
    let mut steps = 1;
    while !making.step().unwrap() {
        steps += 1;
    }
    assert!(steps > 3, "a context is made in small steps, not at once ({steps})");
    let stepwise = making.finish();
    let at_once = realm::create(&runtime).unwrap();
    let globals = |context: &Context| enter(context, |ctx| ctx.eval::<String, _>("Object.getOwnPropertyNames(globalThis).sort().join()").unwrap());
    assert_eq!(globals(&stepwise), globals(&at_once));
    let names = globals(&stepwise);
    for present in ["Uint8Array", "Promise", "WeakRef", "Proxy", "Map", "Date", "RegExp", "JSON", "console"] {
        assert!(names.split(',').any(|n| n == present), "{present} is missing");
    }
    assert!(!names.split(',').any(|n| n == "atob"), "QuickJS's host globals are left out");

    // A spare's first context, with the sandbox classes, likewise.
    let state = IsolateState::new(Limits::new(usize::MAX)).unwrap();
    let mut making = None;
    let mut steps = 0;
    while !state.prepare_step(&mut making).unwrap() {
        steps += 1;
        assert!(!state.has_ready_context());
    }
    assert!(steps > 3);
    assert!(state.has_ready_context());
    // Freeing likewise: what we hold first, then the runtime.
    state.clear();
    assert!(!state.has_ready_context());
    drop(state);
}
