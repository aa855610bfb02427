import { describe, expect, it } from 'vitest'
import ivm, { thrown, rejected, setup } from './ivm'

describe('Context.eval', () => {
  it('returns the completion value in every spelling', async () => {
    const { isolate, context } = setup()
    expect(context.evalSync('1 + 1')).toBe(2)
    expect(await context.eval('"a" + "b"')).toBe('ab')
    expect(context.evalIgnored('globalThis.x = 5')).toBeUndefined()
    expect(await context.eval('x')).toBe(5)
    isolate.dispose()
  })

  it('passes primitives and bigint directly', () => {
    const { isolate, context } = setup()
    expect(context.evalSync('undefined')).toBeUndefined()
    expect(context.evalSync('null')).toBeNull()
    expect(context.evalSync('true')).toBe(true)
    expect(context.evalSync('0.5')).toBe(0.5)
    expect(Object.is(context.evalSync('-0'), -0)).toBe(true)
    expect(context.evalSync('"héllo ✓"')).toBe('héllo ✓')
    expect(context.evalSync('12345678901234567890n')).toBe(12345678901234567890n)
    expect(context.evalSync('-(2n ** 70n)')).toBe(-(2n ** 70n))
    isolate.dispose()
  })

  it('gives undefined for objects and promises without options', () => {
    const { isolate, context } = setup()
    expect(context.evalSync('({ a: 1 })')).toBeUndefined()
    expect(context.evalSync('Promise.resolve(1)')).toBeUndefined()
    isolate.dispose()
  })

  it('copies objects with { copy: true }', () => {
    const { isolate, context } = setup()
    expect(context.evalSync('({ a: [1, 2, { b: 3 }], s: "x", n: null })', { copy: true })).toEqual({
      a: [1, 2, { b: 3 }],
      s: 'x',
      n: null,
    })
    isolate.dispose()
  })

  it('returns functions as callables', () => {
    const { isolate, context } = setup()
    const f = context.evalSync('(function (a, b) { return a * b })')
    expect(typeof f).toBe('function')
    expect(f(6, 7)).toBe(42)
    isolate.dispose()
  })

  it('waits for promises with { promise: true }', async () => {
    const { isolate, context } = setup()
    expect(await context.eval('Promise.resolve(40).then((x) => x + 2)', { promise: true })).toBe(42)
    expect(await context.eval('(async () => ({ a: 1 }))()', { promise: true, copy: true })).toEqual({ a: 1 })
    const e = await rejected(context.eval('Promise.reject(new RangeError("no"))', { promise: true }))
    expect(e).toBeInstanceOf(RangeError)
    expect(e.message).toBe('no')
    isolate.dispose()
  })

  it('rejects two transfer modes at once', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('1', { copy: true, reference: true } as any))
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe('Only one of `copy`, `externalCopy`, or `reference` may be set')
    isolate.dispose()
  })

  it('checks arguments with isolated-vm texts', async () => {
    const { isolate, context } = setup()
    const a = thrown(() => (context as any).evalSync(123))
    expect(a).toBeInstanceOf(TypeError)
    expect(a.message).toBe('`undefined` requires parameter 1 to be a string')
    const b = thrown(() => context.evalSync('1', { timeout: 'soon' as any }))
    expect(b).toBeInstanceOf(TypeError)
    expect(b.message).toBe('`timeout` must be a 32-bit number')
    const c = thrown(() => (context as any).eval(123))
    expect(c.message).toBe('`undefined` requires parameter 1 to be a string')
    const d = await rejected(context.eval('1', { timeout: 'soon' as any }))
    expect(d.message).toBe('`timeout` must be a 32-bit number')
    isolate.dispose()
  })

  it('runs submitted async work in order', async () => {
    const { isolate, context } = setup()
    context.evalIgnored('globalThis.log = []')
    for (let i = 0; i < 20; i++) context.evalIgnored(`log.push(${i})`)
    expect(await context.eval('log.join(",")')).toBe([...Array(20).keys()].join(','))
    isolate.dispose()
  })

  it('throws after release', () => {
    const { isolate, context } = setup()
    context.release()
    expect(thrown(() => context.evalSync('1')).message).toBe('Context is released')
    isolate.dispose()
  })
})

describe('Context.evalClosure', () => {
  it('binds arguments to $0, $1 and supports return', async () => {
    const { isolate, context } = setup()
    expect(context.evalClosureSync('return $0 + $1', [2, 3])).toBe(5)
    expect(await context.evalClosure('return [$0, $1]', ['a', 'b'], { result: { copy: true } })).toEqual(['a', 'b'])
    expect(context.evalClosureSync('return $0.x', [{ x: 4 }], { arguments: { copy: true } })).toBe(4)
    isolate.dispose()
  })

  it('throws for a non-transferable result', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalClosureSync('return { a: 1 }', []))
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe('A non-transferable value was passed')
    const f = thrown(() => (context as any).evalClosureSync('1', 'x'))
    expect(f.message).toBe('`undefined` requires parameter 2 to be an array')
    isolate.dispose()
  })
})

describe('Context.global', () => {
  it('supports the derefInto idiom and get/set/delete', async () => {
    const { isolate, context } = setup()
    const global = context.global
    global.setSync('global', global.derefInto())
    expect(context.evalSync('global === globalThis')).toBe(true)
    expect(await global.set('a', 1)).toBeUndefined()
    expect(global.getSync('a')).toBe(1)
    global.setIgnored('b', 'two')
    expect(await global.get('b')).toBe('two')
    expect(global.deleteSync('a')).toBeUndefined()
    expect(context.evalSync('typeof a')).toBe('undefined')
    await global.set('c', { deep: [1, { x: 2 }] }, { copy: true })
    expect(context.evalSync('c.deep[1].x')).toBe(2)
    isolate.dispose()
  })

  it('returns objects as References and reads own properties only', () => {
    const { isolate, context } = setup()
    context.evalSync('globalThis.o = { x: 1, get g() { return 2 } }; globalThis.n = null')
    const o = context.global.getSync('o')
    expect(o).toBeInstanceOf(ivm.Reference)
    expect(o.typeof).toBe('object')
    expect(o.getSync('x')).toBe(1)
    expect(o.getSync('toString')).toBeUndefined()
    expect(context.global.getSync('missing')).toBeUndefined()
    const e = thrown(() => o.getSync('g'))
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe('Property is getter')
    expect(o.getSync('g', { accessors: true })).toBe(2)
    expect(context.global.getSync('n', { reference: true }).typeof).toBe('null')
    expect(o.copySync()).toEqual({ x: 1, g: 2 })
    isolate.dispose()
  })

  it('turns a host function set on the global into a sync Callback', () => {
    const { isolate, context } = setup()
    const seen: unknown[] = []
    context.global.setSync('log', (...args: unknown[]) => {
      seen.push(args)
      return args.length * 2
    })
    expect(context.evalSync('log(1, "two", { three: 3 })')).toBe(6)
    expect(seen).toEqual([[1, 'two', { three: 3 }]])
    context.global.setSync('bad', () => {
      throw new RangeError('nope')
    })
    expect(context.evalSync('try { bad() } catch (e) { e.name + ":" + e.message + ":" + (e instanceof RangeError) }')).toBe(
      'RangeError:nope:true',
    )
    isolate.dispose()
  })
})

describe('the globals of a new context', () => {
  it("are a bare V8 context's: a console whose methods do nothing, and no host functions", () => {
    const { isolate, context } = setup()
    const seen = context.evalSync(
      `JSON.stringify({
        console: Object.getOwnPropertyNames(console),
        described: Object.getOwnPropertyDescriptor(globalThis, 'console'),
        tag: Object.prototype.toString.call(console),
        calls: [console.log('x'), console.error(new Error('e')), console.table([1]), console.assert(false)],
        method: [typeof console.log, console.log.length, console.log.name, Object.getOwnPropertyDescriptor(console, 'warn')],
        absent: ['atob', 'btoa', 'queueMicrotask', 'performance', 'DOMException', 'setTimeout', 'require', 'process'].filter((n) => n in globalThis),
        present: ['Promise', 'Proxy', 'WeakRef', 'FinalizationRegistry', 'Map', 'Set', 'Uint8Array', 'DataView', 'BigInt', 'JSON', 'Reflect', 'RegExp', 'Date', 'SharedArrayBuffer', 'Atomics'].filter((n) => !(n in globalThis)),
      })`,
    )
    expect(JSON.parse(seen)).toEqual({
      console: ['debug', 'error', 'info', 'log', 'warn', 'dir', 'dirxml', 'table', 'trace', 'group', 'groupCollapsed', 'groupEnd', 'clear', 'count', 'countReset', 'assert', 'profile', 'profileEnd', 'time', 'timeLog', 'timeEnd', 'timeStamp', 'context'],
      described: { value: {}, writable: true, enumerable: false, configurable: true },
      tag: '[object console]',
      calls: [null, null, null, null],
      method: ['function', 0, 'log', { writable: true, enumerable: true, configurable: true }],
      absent: [],
      present: [],
    })
    isolate.dispose()
  })
})
