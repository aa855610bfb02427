import { describe, expect, it } from 'vitest'
import ivm, { rejected, setup, thrown } from './ivm'

// Small behaviours of isolated-vm 5.0.4, measured case by case and pinned for both
// implementations.

describe('option checks', () => {
  it('takes any 32-bit integer timeout (0 or less, or null, is none) and refuses the rest', () => {
    const { isolate, context } = setup()
    for (const timeout of [-1, 0, -(2 ** 31), 2 ** 31 - 1, null]) {
      expect(context.evalSync('{ const t0 = Date.now(); while (Date.now() < t0 + 5); } 1', { timeout } as any)).toBe(1)
    }
    for (const timeout of [0.5, 2 ** 31, 1e10, NaN, Infinity, '5', {}]) {
      const e = thrown(() => context.evalSync('1', { timeout } as any))
      expect([e.constructor, e.message]).toEqual([TypeError, '`timeout` must be a 32-bit number'])
    }
    isolate.dispose()
  })

  it('checks filename, lineOffset and columnOffset, and rejects async calls with them', async () => {
    const { isolate, context } = setup()
    const cases: [() => unknown, string][] = [
      [() => context.evalSync('1', { filename: 5 } as any), '`filename` must be a string'],
      [() => context.evalClosureSync('1', [], { filename: {} } as any), '`filename` must be a string'],
      [() => isolate.compileScriptSync('1', { filename: 5 } as any), '`filename` must be a string'],
      [() => isolate.compileScriptSync('1', { lineOffset: 'x' } as any), '`lineOffset` must be a 32-bit number'],
      [() => isolate.compileScriptSync('1', { columnOffset: 1.5 }), '`columnOffset` must be a 32-bit number'],
    ]
    for (const [f, message] of cases) {
      const e = thrown(f)
      expect([e.constructor, e.message]).toEqual([TypeError, message])
    }
    expect((await rejected(context.eval('1', { filename: 5 } as any))).message).toBe('`filename` must be a string')
    // null means the default, as undefined does
    expect(context.evalSync('new Error("x").stack.split("\\n")[1].trim().slice(3, 16)', { filename: null } as any)).toBe('<isolated-vm>')
    isolate.dispose()
  })

  it("names the Callback constructor in its argument error", () => {
    const e = thrown(() => new ivm.Callback(5 as any))
    expect([e.constructor, e.message]).toEqual([TypeError, '`Callback` requires parameter 1 to be a function'])
  })
})

describe('copies', () => {
  it('gives a Buffer back as a Uint8Array (V8 knows no Buffer)', () => {
    const { isolate, context } = setup()
    const copy = new ivm.ExternalCopy(Buffer.from('hi')).copy()
    expect([copy.constructor.name, [...copy]]).toEqual(['Uint8Array', [104, 105]])
    context.global.setSync('b', Buffer.from('yo'), { copy: true })
    const back = context.evalSync('b', { copy: true })
    expect([back.constructor.name, [...back]]).toEqual(['Uint8Array', [121, 111]])
    isolate.dispose()
  })

  it("refuses to clone a context's global object", () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.global.copySync())
    expect([e.constructor, e.message]).toEqual([TypeError, '#<Object> could not be cloned.'])
    expect(thrown(() => context.evalSync('globalThis', { copy: true })).message).toBe('#<Object> could not be cloned.')
    expect(context.evalSync('({ g: 1 })', { copy: true })).toEqual({ g: 1 })
    isolate.dispose()
  })
})

describe('functions of the sandbox', () => {
  it('print as native code, as V8 prints its builtins', () => {
    const { isolate, context } = setup()
    expect(context.evalSync('[JSON.parse.toString(), console.log.toString(), Math.max.toString()]', { copy: true })).toEqual([
      'function parse() { [native code] }',
      'function log() { [native code] }',
      'function max() { [native code] }',
    ])
    isolate.dispose()
  })
})

describe('instances of the API classes', () => {
  it('have no own enumerable keys, as in isolated-vm (snapshots print them alike)', () => {
    const { isolate, context } = setup()
    const script = isolate.compileScriptSync('1')
    const instances = {
      isolate,
      context,
      global: context.global,
      script,
      isolateReference: context.evalSync('({})', { reference: true }),
      hostReference: new ivm.Reference({}),
      externalCopy: new ivm.ExternalCopy(1),
      objectCopy: new ivm.ExternalCopy({ a: 1 }),
      callback: new ivm.Callback(() => 1),
    }
    for (const [name, value] of Object.entries(instances)) {
      const enumerable = [...Object.keys(value as object), ...Object.getOwnPropertySymbols(value).filter((s) => Object.getOwnPropertyDescriptor(value, s)!.enumerable)]
      expect([name, enumerable]).toEqual([name, []])
    }
    expect(JSON.stringify(instances.hostReference)).toBe('{}')
    isolate.dispose()
  })
})
