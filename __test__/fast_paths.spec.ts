import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync } from 'node:fs'
import { differs, onQuickJS, rejected, setup } from './ivm'

// isolated-quickjs takes shortcuts where isolated-vm always hands work to the isolate's thread:
// async work that runs no user code (createContext, compileScript, set/delete on plain objects)
// runs at once on the caller's thread when the isolate is idle, and compiled code is kept per
// process by source. None of it may change what a program observes; these specs pin that, on
// both implementations.

describe('async work done on the calling thread', () => {
  it('keeps the order of async work: a set never overtakes a queued eval', async () => {
    const { isolate, context } = setup()
    const busy = context.eval('const t0 = Date.now(); while (Date.now() < t0 + 20); globalThis.v = "eval"')
    const set = context.global.set('v', 'set')
    await Promise.all([busy, set])
    expect(context.evalSync('v')).toBe('set')
    isolate.dispose()
  })

  it('does not block the host on a getter that never returns: dispose() ends it', async () => {
    const { isolate, context } = setup()
    context.evalSync('Object.defineProperty(globalThis, "trap", { get() { for (;;) {} } })')
    const started = Date.now()
    const outcome = rejected(context.global.get('trap', { accessors: true }))
    // The event loop keeps running while the getter spins: this timer fires.
    await new Promise((resolve) => setTimeout(resolve, 30))
    isolate.dispose()
    // isolated-vm rejects with null here; an Error that says what happened is kept (README).
    const e = await outcome
    expect(e?.message ?? e).toBe(differs(null, 'Isolate was disposed during execution'))
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('never runs a setter on set (it defines a data property), so it needs no thread', async () => {
    const { isolate, context } = setup()
    context.evalSync('globalThis.log = []; Object.defineProperty(globalThis, "x", { set(v) { log.push(v) }, configurable: true })')
    await context.global.set('x', 1)
    expect(context.evalSync('JSON.stringify([log, Object.getOwnPropertyDescriptor(globalThis, "x")])')).toBe(
      JSON.stringify([[], { value: 1, writable: true, enumerable: true, configurable: true }]),
    )
    isolate.dispose()
  })

  it('settles work done at once after the async work that finished before it', async () => {
    const { isolate, context } = setup()
    const order: string[] = []
    const evaluated = context.eval('1').then(() => order.push('eval'))
    // Let the eval finish on the isolate's thread before the set is made.
    const t0 = Date.now()
    while (Date.now() < t0 + 20);
    const set = context.global.set('x', 1).then(() => order.push('set'))
    await Promise.all([evaluated, set])
    expect(order).toEqual(['eval', 'set'])
    isolate.dispose()
  })

  it('rejects work that fails at once with the boundary and the call site, as a rejection', async () => {
    const { isolate, context } = setup()
    context.evalSync('Object.freeze(globalThis)')
    let threw = false
    let promise: Promise<unknown> | undefined
    try {
      promise = context.global.set('y', 2)
    } catch {
      threw = true
    }
    expect(threw).toBe(false)
    const e = await rejected(promise!)
    const lines = e.stack.split('\n')
    expect([e.constructor, lines[0], lines[1]]).toEqual([TypeError, 'TypeError: Set failed', '    at (<isolated-vm boundary>)'])
    expect(lines[2]).toContain('fast_paths.spec.ts')
    const f = await rejected(isolate.compileScript('let x = ;', { filename: 'f.js' }))
    expect(f.stack.split('\n').slice(0, 2)).toEqual(["SyntaxError: Unexpected token ';' [f.js:1:9]", '    at (<isolated-vm boundary>)'])
    isolate.dispose()
  })

  it('makes contexts and compiles scripts while the isolate is busy with other async work', async () => {
    const { isolate, context } = setup()
    const busy = context.eval('const t0 = Date.now(); while (Date.now() < t0 + 20); 1')
    const [second, script] = await Promise.all([isolate.createContext(), isolate.compileScript('typeof globalThis.t0')])
    expect(await busy).toBe(1)
    expect(await script.run(second)).toBe('undefined')
    expect(await script.run(context)).toBe('undefined') // `const` at top level is not a global property
    isolate.dispose()
  })

  it('rejects async work on a disposed isolate the same way', async () => {
    const { isolate } = setup()
    isolate.dispose()
    const e = await rejected(isolate.createContext())
    expect(e.message).toBe('Isolate is disposed')
    const f = await rejected(isolate.compileScript('1'))
    expect(f.message).toBe('Isolate is disposed')
  })
})

describe('compiled code kept by source', () => {
  it('gives every compile of the same code its own filename and offsets', async () => {
    const code = 'function fail() { throw new Error("boom") }\nfail()'
    const stacks: string[] = []
    for (const options of [{ filename: 'first.js' }, { filename: 'second.js' }, { filename: 'second.js', lineOffset: 10 }, { filename: 'second.js', columnOffset: 4 }]) {
      const { isolate, context } = setup()
      const script = await isolate.compileScript(code, options)
      const e = await rejected(script.run(context))
      stacks.push(e.stack.split('\n').slice(0, 3).join('\n'))
      isolate.dispose()
    }
    // The same positions, each under its own name and offsets (the column of `new Error` is
    // an engine difference of its own; see the stack corpus).
    const where = (stack: string) => [...stack.matchAll(/\((\S+?):(\d+):(\d+)\)|at (\S+?):(\d+):(\d+)$/gm)].map((m) => [m[1] ?? m[4], Number(m[2] ?? m[5]), Number(m[3] ?? m[6])])
    const [first, second, lines, columns] = stacks.map(where)
    expect(first.map((f) => f[0])).toEqual(['first.js', 'first.js'])
    expect(second).toEqual(first.map(([, l, c]) => ['second.js', l, c]))
    expect(lines).toEqual(second.map(([n, l, c]) => [n, (l as number) + 10, c]))
    expect(columns).toEqual(second.map(([n, l, c]) => [n, l, (l as number) === 1 ? (c as number) + 4 : c]))
  })

  it('keeps code apart from its state: each run starts from scratch, in each isolate', async () => {
    const code = 'globalThis.count = (globalThis.count ?? 0) + 1; [count, typeof other]'
    for (let round = 0; round < 2; round++) {
      const { isolate, context } = setup()
      expect(await context.eval(code, { copy: true })).toEqual([1, 'undefined'])
      expect(context.evalSync(code, { copy: true })).toEqual([2, 'undefined'])
      const again = isolate.compileScriptSync(code)
      expect(again.runSync(isolate.createContextSync(), { copy: true })).toEqual([1, 'undefined'])
      isolate.dispose()
    }
  })

  it('reports a syntax error every time it is compiled', async () => {
    for (let round = 0; round < 3; round++) {
      const { isolate, context } = setup()
      const e = await rejected(isolate.compileScript('let x = ;', { filename: 'bad.js' }))
      expect(e).toBeInstanceOf(SyntaxError)
      const f = await rejected(context.evalClosure('return (', []))
      expect(f).toBeInstanceOf(SyntaxError)
      isolate.dispose()
    }
  })

  it('keeps regular expression literals and template objects working from kept code', async () => {
    const code = 'const tag = (s) => s; [/a(b+)c/.exec("xabbbcx")[1], tag`x${1}y`.raw.join("|")]'
    for (let round = 0; round < 2; round++) {
      const { isolate, context } = setup()
      expect(await context.evalClosure(code + '; return 0', [])).toBe(0)
      expect(context.evalSync(code, { copy: true })).toEqual(['bbb', 'x|y'])
      isolate.dispose()
    }
  })
})

// The isolate threads come from a pool: one agent run after another must not make new threads.
// (/proc lists a process's threads on Linux only; elsewhere this says so and checks nothing.)
const procTasks = '/proc/self/task'
describe('pooled isolate threads', () => {
  it.runIf(onQuickJS && existsSync(procTasks))('are reused from one isolate to the next', async () => {
    const seen = new Set<string>()
    const run = async () => {
      const { isolate, context } = setup()
      await context.eval('1 + 1')
      context.global.setSync('x', 1)
      await context.eval('x + 1')
      isolate.dispose()
      for (const task of readdirSync(procTasks)) seen.add(task)
    }
    for (let i = 0; i < 20; i++) await run()
    const before = seen.size
    for (let i = 0; i < 200; i++) {
      await run()
      // Idle pooled threads get woken without work now and then: they must stay in the pool.
      if (i % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    }
    expect(seen.size - before).toBeLessThanOrEqual(2)
  })
  if (!existsSync(procTasks)) it.skip('(no /proc here: thread reuse not checked)', () => {})
})
