import { describe, expect, it } from 'vitest'
import ivm, { thrown, rejected, setup } from './ivm'

describe('errors across the boundary', () => {
  it('arrives as the host constructor for the standard classes', () => {
    const { isolate, context } = setup()
    for (const [code, Ctor] of [
      ['throw new Error("m")', Error],
      ['throw new TypeError("m")', TypeError],
      ['throw new RangeError("m")', RangeError],
      ['throw new SyntaxError("m")', SyntaxError],
      ['throw new ReferenceError("m")', ReferenceError],
    ] as const) {
      const e = thrown(() => context.evalSync(code))
      expect(e.constructor).toBe(Ctor)
      expect(e.message).toBe('m')
    }
    isolate.dispose()
  })

  it('keeps other names on a host Error', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('throw new URIError("u")'))
    expect(e.constructor).toBe(Error)
    expect(e.name).toBe('URIError')
    expect(e.message).toBe('u')
    expect(e.stack.split('\n')[0]).toBe('URIError: u')
    const f = thrown(() => context.evalSync('class MyErr extends Error { constructor(m) { super(m); this.name = "MyErr" } }; throw new MyErr("mine")'))
    expect(f.name).toBe('MyErr')
    expect(f.message).toBe('mine')
    isolate.dispose()
  })

  it('passes thrown primitives as themselves', () => {
    const { isolate, context } = setup()
    expect(thrown(() => context.evalSync('throw "x"'))).toBe('x')
    expect(thrown(() => context.evalSync('throw 42'))).toBe(42)
    expect(thrown(() => context.evalSync('throw null'))).toBeNull()
    isolate.dispose()
  })

  it('reports common engine errors in V8\'s words', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('const user = null\nuser.displayName'))
    expect(e).toBeInstanceOf(TypeError)
    expect(e.message).toBe("Cannot read properties of null (reading 'displayName')")
    expect(e.stack.split('\n')[0]).toBe("TypeError: Cannot read properties of null (reading 'displayName')")
    expect(thrown(() => context.evalSync('new Array(-1)')).message).toBe('Invalid array length')
    expect(thrown(() => context.evalSync('decodeURIComponent("%")')).message).toBe('URI malformed')
    isolate.dispose()
  })

  it('refuses other thrown objects with isolated-vm\'s message', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('throw { code: "E_FAIL" }'))
    expect(e.constructor).toBe(Error)
    expect(e.message).toBe('An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.')
    isolate.dispose()
  })

  it('ends a run whose promise waits on an executor that rejected unhandled (LLMz\'s wrapper)', async () => {
    const { isolate, context } = setup()
    const script = isolate.compileScriptSync(
      'new Promise(async (resolve) => {\n  const user = null\n  resolve(user.name)\n})',
      { filename: '<isolated-vm>' },
    )
    const started = Date.now()
    const e = await rejected(script.run(context, { timeout: 5000, copy: true, promise: true }))
    expect(e).toBeInstanceOf(TypeError)
    expect(Date.now() - started).toBeLessThan(1000)
    // Thrown as the run's own error: it keeps the boundary marker.
    expect(e.stack).toContain('\n    at (<isolated-vm boundary>)')
    expect(e.stack).toMatch(/\n    at .*<isolated-vm>:3:\d+/)
    isolate.dispose()
  })

  it('delivers a settled rejection through promise: true with isolate frames only', async () => {
    const { isolate, context } = setup()
    const e = await rejected(context.eval('(async () => { await null; throw new Error("y") })()', { promise: true }))
    expect(e.message).toBe('y')
    expect(e.stack.split('\n')[0]).toBe('Error: y')
    expect(e.stack).toMatch(/^    at <isolated-vm>:1:\d+$/m)
    expect(e.stack).not.toContain('<isolated-vm boundary>')
    isolate.dispose()
  })

  it('gives V8-shaped stacks with the boundary and host frames', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('function foo() { throw new TypeError("bad") }\nfoo()', { filename: '<isolated-vm>' }))
    const lines = e.stack.split('\n')
    expect(lines[0]).toBe('TypeError: bad')
    expect(lines[1]).toBe('    at foo (<isolated-vm>:1:24)')
    expect(lines[2]).toBe('    at <isolated-vm>:2:1')
    expect(lines[3]).toBe('    at (<isolated-vm boundary>)')
    expect(lines[4]).toContain('errors.spec.ts')
    isolate.dispose()
  })

  it('gives async rejections the boundary and the call site', async () => {
    const { isolate, context } = setup()
    const e = await rejected(context.eval('function foo() { throw new TypeError("bad") }\nfoo()'))
    expect(e).toBeInstanceOf(TypeError)
    const lines = e.stack.split('\n')
    expect(lines[2]).toBe('    at <isolated-vm>:2:1')
    expect(lines[3]).toBe('    at (<isolated-vm boundary>)')
    expect(lines[4]).toContain('errors.spec.ts')
    isolate.dispose()
  })

  it('reports syntax errors with [file:line:col]', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('let x = ;', { filename: 'file:///a.js' }))
    expect(e).toBeInstanceOf(SyntaxError)
    expect(e.message).toMatch(/ \[file:\/\/\/a\.js:1:9\]$/)
    const f = thrown(() => isolate.compileScriptSync('\n  )', { filename: 'b.js' }))
    expect(f).toBeInstanceOf(SyntaxError)
    expect(f.message).toMatch(/ \[b\.js:2:3\]$/)
    isolate.dispose()
  })

  it('throws an unhandled rejection left by a run', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('Promise.reject(new Error("x")); 1'))
    expect(e.message).toBe('x')
    expect(context.evalSync('Promise.reject(new Error("y")).catch(() => 0); 2')).toBe(2)
    isolate.dispose()
  })

  it('turns stack overflow into a catchable RangeError', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('function r() { return r() + 1 } r()'))
    expect(e).toBeInstanceOf(RangeError)
    expect(e.message).toBe('Maximum call stack size exceeded')
    expect(context.evalSync('try { (function r() { r() })() } catch (e) { e instanceof RangeError }')).toBe(true)
    expect(context.evalSync('1 + 1')).toBe(2)
    isolate.dispose()
  })

  it('brings host callback errors in with name and message', () => {
    const { isolate, context } = setup()
    context.global.setSync('tool', () => {
      throw new Error('My Tool')
    })
    const e = thrown(() => context.evalSync('tool()'))
    expect(e.message).toBe('My Tool')
    isolate.dispose()
  })
})

describe('stack-trace hooks as instrumented code uses them', () => {
  it("Error.captureStackTrace gives an object V8's header and frames", () => {
    const { isolate, context } = setup()
    const stacks = context.evalSync(
      `function where(target) { Error.captureStackTrace(target, where); return target.stack.split('\\n').slice(0, 2) }
      function caller(target) { return where(target) }
      [caller({}), caller({ name: 'Tag', message: 'here' }), caller(new TypeError('t'))]`,
      { filename: 'file.js', copy: true },
    )
    expect(stacks).toEqual([
      ['Error', '    at caller (file.js:2:40)'],
      ['Tag: here', '    at caller (file.js:2:40)'],
      ['TypeError: t', '    at caller (file.js:2:40)'],
    ])
    isolate.dispose()
  })

  it('Error.prepareStackTrace receives call sites; top-level code has no function name', () => {
    const { isolate, context } = setup()
    const sites = context.evalSync(
      `Error.prepareStackTrace = (error, sites) => sites.map((s) => [s.getFunctionName(), s.getFileName(), s.getLineNumber(), s.getColumnNumber()])
      function deep() { return new Error('x').stack }
      const stack = deep()
      Error.prepareStackTrace = undefined
      stack`,
      { filename: 'file.js', copy: true },
    )
    expect(sites).toEqual([
      ['deep', 'file.js', 2, 32],
      [null, 'file.js', 3, 21],
    ])
    isolate.dispose()
  })
})
