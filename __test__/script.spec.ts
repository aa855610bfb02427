import { describe, expect, it } from 'vitest'
import ivm, { thrown } from './ivm'

describe('Script', () => {
  it('runs many times in any context of its isolate', async () => {
    const isolate = new ivm.Isolate()
    const a = isolate.createContextSync()
    const b = isolate.createContextSync()
    const script = isolate.compileScriptSync('globalThis.n = (globalThis.n || 0) + 1')
    expect(script.runSync(a)).toBe(1)
    expect(script.runSync(a)).toBe(2)
    expect(await script.run(b)).toBe(1)
    script.runIgnored(b)
    // Async work runs in submission order, so an awaited call sees the ignored one.
    expect(await b.eval('n')).toBe(2)
    isolate.dispose()
  })

  it('compiles regular expression literals and JSON errors in V8 words', () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    expect(isolate.compileScriptSync('/a+b/.test("xaab")').runSync(context)).toBe(true)
    expect(context.evalSync('try { JSON.parse("{ x") } catch (e) { e.name + ": " + e.message }')).toBe(
      "SyntaxError: Expected property name or '}' in JSON at position 2",
    )
    isolate.dispose()
  })

  it('compiles asynchronously and transfers results by options', async () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    const script = await isolate.compileScript('({ list: [1, 2, 3] })')
    expect(script.runSync(context)).toBeUndefined()
    expect(script.runSync(context, { copy: true })).toEqual({ list: [1, 2, 3] })
    const ref = script.runSync(context, { reference: true })
    expect(ref).toBeInstanceOf(ivm.Reference)
    expect(ref.getSync('list', { copy: true })).toEqual([1, 2, 3])
    isolate.dispose()
  })

  it('checks its arguments and refuses to run after release', () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    const script = isolate.compileScriptSync('1')
    const e = thrown(() => (script as any).runSync({}))
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe('`undefined` requires parameter 1 to be something else')
    script.release()
    expect(thrown(() => script.runSync(context)).message).toBe('Script has been released')
    isolate.dispose()
  })

  it('applies lineOffset and columnOffset to stack positions', () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    const script = isolate.compileScriptSync('null.x', { filename: 'offset.js', lineOffset: 10, columnOffset: 4 })
    const e = thrown(() => script.runSync(context))
    expect(e.stack.split('\n')[1]).toMatch(/^    at offset\.js:11:\d+$/)
    isolate.dispose()
  })
})
