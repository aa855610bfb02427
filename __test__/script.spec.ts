import { describe, expect, it } from 'vitest'
import ivm, { differs, rejected, thrown } from './ivm'

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

describe('cachedData', () => {
  it('is produced and read back for modules too', async () => {
    const isolate = new ivm.Isolate()
    const source = 'export const answer = 6 * 7'
    const produced = isolate.compileModuleSync(source, { produceCachedData: true })
    expect(produced.cachedData).toBeInstanceOf(ivm.ExternalCopy)
    expect(produced.cachedDataRejected).toBeUndefined()
    const reused = isolate.compileModuleSync(source, { cachedData: produced.cachedData })
    expect([reused.cachedDataRejected, reused.cachedData]).toEqual([false, undefined])
    const context = isolate.createContextSync()
    reused.instantiateSync(context, () => {
      throw new Error('no imports')
    })
    reused.evaluateSync()
    expect(reused.namespace.getSync('answer')).toBe(42)
    // A script's data is not a module's (isolated-vm, whose V8 checks little, takes it).
    const script = isolate.compileScriptSync(source.replace('export ', ''), { produceCachedData: true })
    const crossed = isolate.compileModuleSync(source.replace('export ', ''), { cachedData: script.cachedData })
    expect(crossed.cachedDataRejected).toBe(differs(false, true))
    isolate.dispose()
  })

  it('is produced on request, as an ExternalCopy of an ArrayBuffer, and read back to skip parsing', async () => {
    const isolate = new ivm.Isolate()
    const produced = isolate.compileScriptSync('6 * 7', { produceCachedData: true })
    expect(produced.cachedData).toBeInstanceOf(ivm.ExternalCopy)
    expect(produced.cachedData!.copy()).toBeInstanceOf(ArrayBuffer)
    expect(produced.cachedDataRejected).toBeUndefined()
    const reused = isolate.compileScriptSync('6 * 7', { cachedData: produced.cachedData })
    expect([reused.cachedDataRejected, reused.cachedData]).toEqual([false, undefined])
    expect(reused.runSync(isolate.createContextSync())).toBe(42)
    // Both options: isolated-vm produces nothing then.
    const both = isolate.compileScriptSync('6 * 7', { produceCachedData: true, cachedData: produced.cachedData })
    expect([both.cachedDataRejected, both.cachedData]).toEqual([false, undefined])
    const later = await isolate.compileScript('6 * 7', { cachedData: produced.cachedData })
    expect([later.cachedDataRejected, await later.run(isolate.createContextSync())]).toEqual([false, 42])
    isolate.dispose()
  })

  it('is never read for another source, or when it is not genuine: the source is compiled', () => {
    const isolate = new ivm.Isolate()
    const produced = isolate.compileScriptSync('6 * 7', { produceCachedData: true })
    // isolated-vm accepts the data of a source of the same length and runs *that* code (V8 checks
    // little more than the length); here the data is checked against the exact source, reported
    // as rejected, and the source given is compiled. QuickJS's bytecode reader must never see
    // foreign bytes.
    const other = isolate.compileScriptSync('6 * 8', { cachedData: produced.cachedData })
    expect([other.cachedDataRejected, other.runSync(isolate.createContextSync())]).toEqual([differs(false, true), differs(42, 48)])
    const bytes = new Uint8Array(produced.cachedData!.copy() as ArrayBuffer)
    bytes[bytes.length - 1] ^= 0xff
    const tampered = isolate.compileScriptSync('6 * 7', { cachedData: new ivm.ExternalCopy(bytes.buffer) })
    expect([tampered.cachedDataRejected, tampered.runSync(isolate.createContextSync())]).toEqual([differs(false, true), 42])
    const garbage = isolate.compileScriptSync('6 * 7', { cachedData: new ivm.ExternalCopy(new ArrayBuffer(64)) })
    expect(garbage.cachedDataRejected).toBe(differs(false, true))
    // Rejected data with produceCachedData: fresh data is produced in its place (isolated-vm's
    // own cached-data test).
    const source = Array.from({ length: 2000 }, (_, i) => `function f${i}() {}`).join(';')
    const replaced = isolate.compileScriptSync(source, { cachedData: new ivm.ExternalCopy(Buffer.from('garbage').buffer), produceCachedData: true })
    expect(replaced.cachedDataRejected).toBe(true)
    expect(replaced.cachedData).toBeInstanceOf(ivm.ExternalCopy)
    isolate.dispose()
  })

  it('must be an ExternalCopy of an ArrayBuffer', async () => {
    const isolate = new ivm.Isolate()
    const e = thrown(() => isolate.compileScriptSync('1', { cachedData: 5 as any }))
    expect([e.constructor, e.message]).toEqual([TypeError, '`cachedData` must be an object'])
    const f = thrown(() => isolate.compileScriptSync('1', { cachedData: new ArrayBuffer(4) as any }))
    expect([f.constructor, f.message]).toEqual([TypeError, '`cachedData` must be an ExternalCopy to ArrayBuffer'])
    expect((await rejected(isolate.compileScript('1', { cachedData: 5 as any }))).message).toBe('`cachedData` must be an object')
    isolate.dispose()
  })
})
