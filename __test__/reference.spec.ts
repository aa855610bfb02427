import { describe, expect, it } from 'vitest'
import ivm, { thrown, rejected, setup } from './ivm'

/** A fresh context whose `global` names its global object, as LLMz sets it up. */
function setupWithGlobal() {
  const made = setup()
  made.context.global.setSync('global', made.context.global.derefInto())
  return made
}

describe('Reference to isolate values', () => {
  it('applies functions in every spelling with argument and result options', async () => {
    const { isolate, context } = setupWithGlobal()
    const fn = context.evalSync('(function (a, b) { return { sum: a.x + b } })', { reference: true })
    expect(fn.typeof).toBe('function')
    expect(fn.applySync(undefined, [{ x: 1 }, 2], { arguments: { copy: true }, result: { copy: true } })).toEqual({ sum: 3 })
    expect(await fn.apply(undefined, [{ x: 2 }, 2], { arguments: { copy: true }, result: { copy: true } })).toEqual({ sum: 4 })
    const r = fn.applySync(undefined, [{ x: 1 }, 1], { arguments: { copy: true } })
    expect(r).toBeInstanceOf(ivm.Reference)
    expect(r.copySync()).toEqual({ sum: 2 })
    expect(fn.applyIgnored(undefined, [])).toBeUndefined()
    isolate.dispose()
  })

  it('refuses deref from the host and derefs into its own isolate only', () => {
    const { isolate, context } = setupWithGlobal()
    const obj = context.evalSync('({ x: 1 })', { reference: true })
    const e = thrown(() => obj.deref())
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe('Cannot dereference this from current isolate')
    context.global.setSync('same', obj.derefInto())
    expect(context.evalSync('same.x')).toBe(1)
    const other = new ivm.Isolate()
    const otherContext = other.createContextSync()
    const f = thrown(() => otherContext.global.setSync('wrong', obj.derefInto()))
    expect(f).toBeInstanceOf(TypeError)
    expect(f.message).toBe('Cannot dereference this into target isolate')
    other.dispose()
    isolate.dispose()
  })

  it('makes every marker single-use, on the host and inside the isolate, as isolated-vm does', () => {
    const { isolate, context } = setupWithGlobal()
    const copy = new ivm.ExternalCopy({ a: 1 })
    const marker = copy.copyInto()
    context.global.setSync('x', marker)
    expect(thrown(() => context.global.setSync('y', marker)).message).toBe('The return value of `copyInto()` should only be used once')
    context.global.setSync('ec', copy)
    context.global.setSync('ref', new ivm.Reference({}))
    const inside = context.evalSync(`
      const out = []
      const m = ec.copyInto()
      ref.setSync('x', m)
      try { ref.setSync('y', m); out.push('used twice') } catch (e) { out.push(e.message) }
      const d = new ref.constructor({ b: 2 }).derefInto()
      for (const key of ['p', 'q']) {
        try { ref.setSync(key, d); out.push('landed') } catch (e) { out.push(e.message) }
      }
      out.join(' | ')`)
    expect(inside).toBe(
      'The return value of `copyInto()` should only be used once | Cannot dereference this into target isolate | The return value of `derefInto()` should only be used once',
    )
    isolate.dispose()
  })

  it('marks derefInto({ release: true }) single-use and releases', () => {
    const { isolate, context } = setupWithGlobal()
    const obj = context.evalSync('({ x: 1 })', { reference: true })
    const marker = obj.derefInto({ release: true })
    context.global.setSync('a', marker)
    expect(thrown(() => obj.typeof).message).toBe('Reference has been released')
    isolate.dispose()
  })

  it('throws after release', async () => {
    const { isolate, context } = setupWithGlobal()
    const obj = context.evalSync('({ x: 1 })', { reference: true })
    obj.release()
    expect(thrown(() => obj.getSync('x')).message).toBe('Reference has been released')
    isolate.dispose()
  })

  it('reads own properties only (unsafeInherit belongs to the Reference constructor)', () => {
    const { isolate, context } = setupWithGlobal()
    const obj = context.evalSync('Object.create({ inherited: 5 })', { reference: true })
    expect(obj.getSync('inherited')).toBeUndefined()
    expect(obj.getSync('inherited', { unsafeInherit: true } as any)).toBeUndefined()
    const inheriting = new ivm.Reference(Object.create({ inherited: 6 }), { unsafeInherit: true })
    expect(inheriting.getSync('inherited')).toBe(6)
    expect(new ivm.Reference(Object.create({ inherited: 6 })).getSync('inherited')).toBeUndefined()
    isolate.dispose()
  })
})

describe('Reference to host values', () => {
  it('typeof, deref and copy on the host', () => {
    const value = { a: [1, 2] }
    const ref = new ivm.Reference(value)
    expect(ref.typeof).toBe('object')
    expect(ref.deref()).toBe(value)
    expect(ref.copySync()).toEqual(value)
    expect(new ivm.Reference(null).typeof).toBe('null')
    const e = thrown(() => new (ivm.Reference as any)())
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe('`Reference` requires at least 1 parameter')
  })

  it('is usable from inside the isolate: get, set, apply, copy', () => {
    const { isolate, context } = setupWithGlobal()
    const target: any = { n: 1, add: (a: number, b: number) => a + b }
    context.global.setSync('ref', new ivm.Reference(target))
    expect(context.evalSync('ref.typeof')).toBe('object')
    expect(context.evalSync('ref.getSync("n")')).toBe(1)
    context.evalSync('ref.setSync("m", 2)')
    expect(target.m).toBe(2)
    // A host function read through a Reference arrives as a plain callable, as in isolated-vm.
    expect(context.evalSync('ref.getSync("add")(2, 3)')).toBe(5)
    expect(context.evalSync('ref.getSync("add", { reference: true }).applySync(null, [2, 3])')).toBe(5)
    context.global.setSync('data', new ivm.Reference({ n: 1 }))
    expect(context.evalSync('data.copySync().n')).toBe(1)
    expect(context.evalSync('try { ref.deref() } catch (e) { e.message }')).toBe('Cannot dereference this from current isolate')
    isolate.dispose()
  })

  it('serves the LLMz tool pattern: applySyncPromise with copied arguments', async () => {
    const { isolate, context } = setupWithGlobal()
    const calls: unknown[] = []
    const tool = async (...args: unknown[]) => {
      calls.push(args)
      await new Promise((r) => setTimeout(r, 5))
      return new ivm.ExternalCopy({ echoed: args }).copyInto()
    }
    await context.evalClosure(
      "global['myTool'] = (...args) => $0.applySyncPromise(null, args, { arguments: { copy: true } });",
      [tool],
      { arguments: { reference: true } },
    )
    const result = await context.eval('new Promise((resolve) => resolve(myTool({ q: 1 }, "two")))', { promise: true, copy: true })
    expect(result).toEqual({ echoed: [{ q: 1 }, 'two'] })
    expect(calls).toEqual([[{ q: 1 }, 'two']])
    isolate.dispose()
  })

  it('takes a copyInto() marker from a tool once: a marker is single-use with or without release', async () => {
    const { isolate, context } = setupWithGlobal()
    const marker = new ivm.ExternalCopy({ a: 1, list: [1, 2] }).copyInto()
    await context.evalClosure("global['tool'] = () => $0.applySyncPromise(null, [])", [async () => marker], { arguments: { reference: true } })
    expect(await context.eval('JSON.stringify(tool())')).toBe('{"a":1,"list":[1,2]}')
    expect(await context.eval("try { tool(); 'used twice' } catch (e) { e.name + ': ' + e.message }")).toBe(
      'Error: The return value of `copyInto()` should only be used once',
    )
    isolate.dispose()
  })

  it('refuses result options on applySyncPromise, with the frames of the calling code', async () => {
    const { isolate, context } = setupWithGlobal()
    await context.evalClosure("global['tool'] = () => $0.applySyncPromise(null, [], { result: { copy: true } })", [async () => 1], {
      arguments: { reference: true },
    })
    const stack = await context.eval('function f() { return tool() }\ntry { f() } catch (e) { e.stack }')
    expect(stack.split('\n')[0]).toBe('TypeError: `result` options are not available for `applySyncPromise`')
    // (isolated-vm names the arrow `global.tool` and points at the property, col 29.)
    expect(stack).toMatch(/\n {4}at f \(<isolated-vm>:1:23\)\n {4}at <isolated-vm>:2:7/)
    isolate.dispose()
  })

  it('brings a tool rejection in with its message', async () => {
    const { isolate, context } = setupWithGlobal()
    await context.evalClosure(
      "global['bad'] = (...args) => $0.applySyncPromise(null, args, { arguments: { copy: true } });",
      [async () => { throw new Error('My Tool') }],
      { arguments: { reference: true } },
    )
    expect(await context.eval('try { bad(); "no" } catch (e) { e.message }')).toBe('My Tool')
    const e = await rejected(context.eval('bad()'))
    expect(e.message).toBe('My Tool')
    isolate.dispose()
  })

  it('refuses applySyncPromise while the host runs the isolate synchronously', async () => {
    const { isolate, context } = setupWithGlobal()
    await context.evalClosure('global.tool = $0', [async () => 1], { arguments: { reference: true } })
    const e = thrown(() => context.evalSync('tool.applySyncPromise(null, [])'))
    expect(e.message).toBe('This function may not be called from the default thread')
    isolate.dispose()
  })

  it('keeps the isolate open to sync calls while applySyncPromise waits', async () => {
    const { isolate, context } = setupWithGlobal()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    await context.evalClosure('global.wait = $0', [async () => { await gate; return 'done' }], { arguments: { reference: true } })
    const running = context.eval('globalThis.state = "waiting"; wait.applySyncPromise(null, [])')
    await new Promise((r) => setTimeout(r, 20))
    expect(context.evalSync('state')).toBe('waiting')
    release()
    expect(await running).toBe('done')
    isolate.dispose()
  })

  it('does not count time paused on the host against the timeout', async () => {
    const { isolate, context } = setupWithGlobal()
    await context.evalClosure('global.slow = $0', [() => new Promise((r) => setTimeout(() => r(7), 150))], { arguments: { reference: true } })
    expect(await context.eval('slow.applySyncPromise(null, [])', { timeout: 100 })).toBe(7)
    isolate.dispose()
  })
})

describe('Callback', () => {
  it('runs sync, async and ignored host functions', async () => {
    const { isolate, context } = setupWithGlobal()
    const seen: unknown[] = []
    context.global.setSync('syncCb', new ivm.Callback((a: number) => a * 2))
    context.global.setSync('asyncCb', new ivm.Callback((a: number) => a * 3, { async: true }))
    context.global.setSync('ignoredCb', new ivm.Callback((a: number) => seen.push(a), { ignored: true }))
    expect(context.evalSync('syncCb(2)')).toBe(4)
    expect(await context.eval('asyncCb(2).then((v) => v + 1)', { promise: true })).toBe(7)
    expect(context.evalSync('ignoredCb(9)')).toBeUndefined()
    await new Promise((r) => setTimeout(r, 20))
    expect(seen).toEqual([9])
    // As in isolated-vm, an async Callback copies its function's result; a promise cannot be.
    context.global.setSync('returnsPromise', new ivm.Callback(async () => 1, { async: true }))
    const e = await rejected(context.eval('returnsPromise()', { promise: true }))
    expect(e.message).toBe('#<Promise> could not be cloned.')
    isolate.dispose()
  })

  it('copies arguments and results', () => {
    const { isolate, context } = setupWithGlobal()
    const received: any[] = []
    context.global.setSync('cb', (o: any) => {
      received.push(o)
      o.mutated = true
      return { back: o.v }
    })
    expect(context.evalSync('const o = { v: 1 }; const r = cb(o); [r.back, o.mutated === undefined]', { copy: true })).toEqual([1, true])
    isolate.dispose()
  })
})

describe('References handed on (found running isolated-vm’s own test scripts)', () => {
  it('gives each Reference argument of a host function its own new Reference', () => {
    const shared = new ivm.Reference('hello')
    const seen: unknown[] = []
    new ivm.Reference(function (a: ivm.Reference<string>, b: ivm.Reference<string>) {
      seen.push(a === shared, b === shared, a === b)
      a.release()
      seen.push(b.deref(), shared.deref())
    }).applySync(undefined, [shared, shared])
    expect(seen).toEqual([false, false, false, 'hello', 'hello'])

    const { isolate, context } = setup()
    const inIsolate = context.evalSync('({ x: 1 })', { reference: true })
    new ivm.Reference(function (a: ivm.Reference<{ x: number }>, b: ivm.Reference<{ x: number }>) {
      a.release()
      seen.push(b.getSync('x'), inIsolate.getSync('x'))
    }).applySync(undefined, [inIsolate, inIsolate])
    expect(seen.slice(5)).toEqual([1, 1])
    isolate.dispose()
  })

  it('makes the References got from an unsafeInherit Reference inherit too', () => {
    const base = { foo: 1 }
    const middle = Object.create(base)
    middle.bar = 2
    const top = Object.create(middle)
    top.etc = middle
    expect(new ivm.Reference(top).getSync('etc').getSync('foo')).toBeUndefined()
    expect(new ivm.Reference(top, { unsafeInherit: true }).getSync('etc').getSync('foo')).toBe(1)

    const { isolate, context } = setup()
    context.evalSync('globalThis.top = Object.create(Object.assign(Object.create({ foo: 1 }), { bar: 2 })); top.etc = Object.getPrototypeOf(top)')
    const plain = context.evalSync('top', { reference: true })
    expect(plain.getSync('etc').getSync('foo')).toBeUndefined()
    // (Inside an isolate the Reference class is a Reference's constructor.)
    const inheriting = context.evalClosureSync('return new $0.constructor(top, { unsafeInherit: true })', [new ivm.Reference(0)])
    expect(inheriting.getSync('foo')).toBe(1)
    expect(inheriting.getSync('etc').getSync('foo')).toBe(1)
    isolate.dispose()
  })
})
