import { describe, expect, it } from 'vitest'
import ivm, { thrown, rejected, differs, onQuickJS } from './ivm'

describe('timeouts', () => {
  it('stops a sync loop and names the running function', () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    const e = thrown(() => context.evalSync('function spin() { while (true) {} }\nspin()', { timeout: 30 }))
    expect(e.constructor).toBe(Error)
    expect(e.message).toBe('Script execution timed out.')
    expect(e.stack.split('\n')[0]).toBe('Error: Script execution timed out.')
    expect(e.stack).toMatch(/\n    at spin \(<isolated-vm>:1:\d+\)\n/)
    expect(context.evalSync('1 + 1')).toBe(2)
    isolate.dispose()
  })

  it('stops async runs and scripts', async () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    expect((await rejected(context.eval('for (;;) {}', { timeout: 20 }))).message).toBe('Script execution timed out.')
    const script = isolate.compileScriptSync('for (;;) {}')
    expect(thrown(() => script.runSync(context, { timeout: 20 })).message).toBe('Script execution timed out.')
    expect((await rejected(script.run(context, { timeout: 20 }))).message).toBe('Script execution timed out.')
    expect(await context.eval('"alive"')).toBe('alive')
    isolate.dispose()
  })

  it('covers the async work that settles a promise', async () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    const e = await rejected(
      context.eval('(async () => { await null; for (;;) {} })()', { timeout: 30, promise: true }),
    )
    expect(e.message).toBe('Script execution timed out.')
    isolate.dispose()
  })

  // Difference (README): isolated-vm runs them at the next call; the contract (API.md) asks that
  // they do not run, and here they do not.
  it('does not run microtasks queued by timed-out code', () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    thrown(() => context.evalSync('globalThis.ran = false; Promise.resolve().then(() => { globalThis.ran = true }); for (;;) {}', { timeout: 20 }))
    context.evalSync('Promise.resolve().then(() => 0)')
    expect(context.evalSync('ran')).toBe(differs(true, false))
    isolate.dispose()
  })
})

describe('memory limit', () => {
  it('disposes the isolate with the exact message and leaves the host running', async () => {
    const isolate = new ivm.Isolate({ memoryLimit: 8 })
    const context = isolate.createContextSync()
    const e = thrown(() => context.evalSync('const a = []; for (;;) a.push("x".repeat(1000) + a.length)'))
    expect(e.message).toBe('Isolate was disposed during execution due to memory limit')
    expect(isolate.isDisposed).toBe(true)
    const other = new ivm.Isolate()
    expect(other.createContextSync().evalSync('1 + 1')).toBe(2)
    other.dispose()
  })

  // Difference (README): isolated-vm does not stop this loop (V8 keeps ArrayBuffer memory outside
  // the heap limit); the contract asks for the limit to cover ArrayBuffers, and here it does.
  it.runIf(onQuickJS)('counts ArrayBuffers and catching the error does not help', async () => {
    const isolate = new ivm.Isolate({ memoryLimit: 8 })
    const context = isolate.createContextSync()
    const e = await rejected(
      context.eval('const keep = []; for (;;) { try { keep.push(new ArrayBuffer(1 << 20)) } catch {} }'),
    )
    expect(e.message).toBe('Isolate was disposed during execution due to memory limit')
  })
})
