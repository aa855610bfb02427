import { describe, expect, it } from 'vitest'
import ivm, { differs, rejected, setup, thrown } from './ivm'

/** A resolver over named modules, recording each call as [specifier, referrer's name]. */
function resolver(modules: Record<string, any>, calls: [string, string][] = []) {
  const nameOf = (module: any) => Object.keys(modules).find((k) => modules[k] === module) ?? '?'
  return (specifier: string, referrer: any) => {
    calls.push([specifier, nameOf(referrer)])
    return modules[specifier]
  }
}

describe('compileModule', () => {
  it('lists dependency specifiers once each, in source order', () => {
    const { isolate } = setup()
    const module = isolate.compileModuleSync(`
      import { a } from './a.mjs'
      import b from "b"
      export { c } from './c.mjs'
      import * as again from './a.mjs'
      export * from 'star'
      export const z = a + b`)
    expect(module.dependencySpecifiers).toEqual(['./a.mjs', 'b', './c.mjs', 'star'])
    expect(isolate.compileModuleSync('export default 1').dependencySpecifiers).toEqual([])
    isolate.dispose()
  })

  it('instantiates with the host resolving each dependency, evaluates once, and exposes the namespace', async () => {
    const { isolate, context } = setup()
    const dep = isolate.compileModuleSync('export let count = 1; export function bump() { return ++count }; export default "dflt"', { filename: 'dep.mjs' })
    const leaf = isolate.compileModuleSync('export const leaf = "leaf"', { filename: 'leaf.mjs' })
    const mid = isolate.compileModuleSync('export { leaf } from "leaf"; export const mid = 2', { filename: 'mid.mjs' })
    const main = isolate.compileModuleSync(
      `import d, { count, bump } from './dep.mjs'
       import { leaf, mid } from 'mid'
       bump()
       export const summary = [d, count, leaf, mid].join()
       globalThis.evaluations = (globalThis.evaluations ?? 0) + 1`,
      { filename: 'main.mjs' },
    )
    const calls: [string, string][] = []
    main.instantiateSync(context, resolver({ './dep.mjs': dep, mid, leaf, main }, calls))
    // Direct and indirect dependencies, each once.
    expect(calls).toEqual([
      ['./dep.mjs', 'main'],
      ['mid', 'main'],
      ['leaf', 'mid'],
    ])
    expect(main.evaluateSync()).toBeUndefined()
    expect(main.namespace.getSync('summary')).toBe('dflt,2,leaf,2')
    // Evaluating again does nothing.
    expect(main.evaluateSync()).toBeUndefined()
    expect(await main.evaluate()).toBeUndefined()
    expect(context.evalSync('evaluations')).toBe(1)
    // Instantiating again has no effect either.
    main.instantiateSync(context, () => {
      throw new Error('not called')
    })
    isolate.dispose()
  })

  it('gives the namespace only of modules evaluate was called on, as isolated-vm does', () => {
    const { isolate, context } = setup()
    const dep = isolate.compileModuleSync('export const x = 41')
    const main = isolate.compileModuleSync('import { x } from "dep"; export const y = x + 1')
    expect(thrown(() => main.namespace).message).toBe('Module has not been instantiated.')
    main.instantiateSync(context, () => dep)
    expect(thrown(() => main.namespace).message).toBe('Module has not been instantiated.')
    main.evaluateSync()
    expect(main.namespace.getSync('y')).toBe(42)
    expect(thrown(() => dep.namespace).message).toBe('Module has not been instantiated.')
    isolate.dispose()
  })

  it('resolves asynchronously with instantiate(), and evaluates top-level await', async () => {
    const { isolate, context } = setup()
    const dep = isolate.compileModuleSync('export const v = await Promise.resolve(20)')
    const main = isolate.compileModuleSync('import { v } from "dep"; export const w = v + await 1')
    await main.instantiate(context, async (specifier: string) => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return specifier === 'dep' ? dep : undefined
    })
    expect(await main.evaluate({ timeout: 1000 })).toBeUndefined()
    expect(main.namespace.getSync('w')).toBe(21)
    isolate.dispose()
  })

  it('reports errors as isolated-vm does', async () => {
    const { isolate, context } = setup()
    const main = isolate.compileModuleSync('import "x"; throw new TypeError("top")', { filename: 'thrower.mjs' })
    expect(thrown(() => main.evaluateSync()).message).toBe('Module is uninstantiated')
    const dep = isolate.compileModuleSync('')
    expect(thrown(() => main.instantiateSync(context, () => 5))).toMatchObject({ name: 'TypeError', message: 'Resolved dependency was not `Module`' })
    expect(thrown(() => main.instantiateSync(context, () => {
      throw new RangeError('no such module')
    }))).toMatchObject({ name: 'RangeError', message: 'no such module' })
    expect((await rejected(main.instantiate(context, async () => 'nope'))).message).toBe('Resolved dependency was not `Module`')
    main.instantiateSync(context, () => dep)
    const error = thrown(() => main.evaluateSync())
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toBe('top')
    expect(error.stack).toMatch(/^TypeError: top\n    at thrower\.mjs:1:/)
    // A module that threw does not throw again.
    expect(main.evaluateSync()).toBeUndefined()
    const syntax = thrown(() => isolate.compileModuleSync('export const = 1', { filename: 'bad.mjs' }))
    expect(syntax).toBeInstanceOf(SyntaxError)
    expect(syntax.message).toBe(differs("Unexpected token '=' [bad.mjs:1:14]", 'variable name expected [bad.mjs:1:14]'))
    expect((await rejected(isolate.compileModule('import {', { filename: 'cut.mjs' }))).name).toBe('SyntaxError')
    isolate.dispose()
  })

  it('links when instantiated: a missing export fails there, in V8\'s words', () => {
    const { isolate, context } = setup()
    const dep = isolate.compileModuleSync('export const a = 1', { filename: 'dep.mjs' })
    const main = isolate.compileModuleSync('import { nope } from "./dep"; export default nope')
    const error = thrown(() => main.instantiateSync(context, () => dep))
    expect(error).toBeInstanceOf(SyntaxError)
    expect(error.message).toBe("The requested module './dep' does not provide an export named 'nope'")
    expect(thrown(() => main.evaluateSync()).message).toBe('Module is uninstantiated')
    isolate.dispose()
  })

  it('names conflicting star exports and missing re-exports as V8 does', () => {
    const link = (sources: Record<string, string>, root: string) => {
      const { isolate, context } = setup()
      const modules: Record<string, any> = {}
      for (const [name, code] of Object.entries(sources)) modules[name] = isolate.compileModuleSync(code)
      const error = thrown(() => modules[root].instantiateSync(context, (specifier: string) => modules[specifier]))
      isolate.dispose()
      return `${error.name}: ${error.message}`
    }
    expect(link({ a: 'export const v = 1', b: 'export const v = 2', './s': 'export * from "a"; export * from "b"', root: 'import { v } from "./s"' }, 'root')).toBe(
      "SyntaxError: The requested module './s' contains conflicting star exports for name 'v'",
    )
    expect(link({ a: 'export const v = 1', root: 'export { nope } from "a"' }, 'root')).toBe("SyntaxError: The requested module 'a' does not provide an export named 'nope'")
  })

  it('refuses import() inside the isolate, as isolated-vm does', async () => {
    const { isolate, context } = setup()
    const dep = isolate.compileModuleSync('export default 1', { filename: 'dep.mjs' })
    dep.instantiateSync(context, () => dep)
    dep.evaluateSync()
    const outcome = 'import("dep.mjs").then(() => "loaded", (e) => e.constructor.name + ": " + e.message)'
    expect(await context.eval(outcome, { promise: true })).toBe('Error: Not supported')
    const main = isolate.compileModuleSync(`export const got = await ${outcome}`)
    main.instantiateSync(context, () => main)
    await main.evaluate()
    expect(main.namespace.getSync('got')).toBe('Error: Not supported')
    isolate.dispose()
  })

  it('checks its arguments as isolated-vm does', () => {
    const { isolate, context } = setup()
    const module = isolate.compileModuleSync('export default 1')
    expect(thrown(() => (isolate as any).compileModuleSync()).message).toBe('`undefined` requires at least 1 parameter')
    expect(thrown(() => (isolate as any).compileModuleSync(5)).message).toBe('`undefined` requires parameter 1 to be a string')
    expect(thrown(() => (module as any).instantiateSync()).message).toBe('`undefined` requires at least 2 parameters')
    expect(thrown(() => (module as any).instantiateSync({}, () => module)).message).toBe('`undefined` requires parameter 1 to be something else')
    expect(thrown(() => (module as any).instantiateSync(context, 5)).message).toBe('`undefined` requires parameter 2 to be a function')
    expect(thrown(() => isolate.compileModuleSync('1', { meta: () => {} })).message).toBe('`meta` callback must belong to entered isolate')
    isolate.dispose()
  })

  it('does not wait for a top-level await that needs more than microtasks', async () => {
    const { isolate, context } = setup()
    const never = isolate.compileModuleSync('await new Promise(() => {}); export const v = 1')
    never.instantiateSync(context, () => never)
    expect(never.evaluateSync({ timeout: 1000 })).toBeUndefined()
    const later = isolate.compileModuleSync('await new Promise(() => {})')
    later.instantiateSync(context, () => later)
    expect(await later.evaluate({ timeout: 1000 })).toBeUndefined()
    const late = isolate.compileModuleSync('await Promise.resolve(); throw new Error("late")')
    late.instantiateSync(context, () => late)
    expect(thrown(() => late.evaluateSync()).message).toBe('late')
    isolate.dispose()
  })

  it('times out, and keeps the isolate usable', () => {
    const { isolate, context } = setup()
    const loop = isolate.compileModuleSync('for (;;) {}')
    loop.instantiateSync(context, () => loop)
    expect(thrown(() => loop.evaluateSync({ timeout: 20 })).message).toBe('Script execution timed out.')
    expect(context.evalSync('1 + 1')).toBe(2)
    isolate.dispose()
  })

  it('links cycles and modules shared by two graphs', () => {
    const { isolate, context } = setup()
    const a = isolate.compileModuleSync('import { b } from "b"; export const a = "a"; export const fromB = () => b')
    const b = isolate.compileModuleSync('import { a } from "a"; export const b = "b"; export const fromA = () => a')
    const shared = isolate.compileModuleSync('globalThis.sharedRuns = (globalThis.sharedRuns ?? 0) + 1; export const s = 1')
    const one = isolate.compileModuleSync('import { s } from "shared"; import { fromB } from "a"; export const one = s + fromB()')
    const two = isolate.compileModuleSync('import { s } from "shared"; export const two = s + 1')
    const modules = { a, b, shared }
    one.instantiateSync(context, resolver(modules))
    one.evaluateSync()
    two.instantiateSync(context, resolver(modules))
    two.evaluateSync()
    expect(one.namespace.getSync('one')).toBe('1b')
    expect(two.namespace.getSync('two')).toBe(2)
    expect(context.evalSync('sharedRuns')).toBe(1)
    isolate.dispose()
  })

  it('keeps a module to its own isolate and context (isolated-vm lets both cross)', () => {
    const { isolate, context } = setup()
    const other = new ivm.Isolate()
    const foreign = other.compileModuleSync('export default 1')
    const main = isolate.compileModuleSync('import x from "x"; export const y = x')
    const outcome = (f: () => unknown) => {
      try {
        return f()
      } catch (e: any) {
        return e.message
      }
    }
    expect(outcome(() => main.instantiateSync(context, () => foreign))).toBe(differs(undefined, 'Resolved dependency was not `Module`'))
    const second = isolate.createContextSync()
    const shared = isolate.compileModuleSync('export const q = 1')
    shared.instantiateSync(context, () => shared)
    const user = isolate.compileModuleSync('import { q } from "m"; export const r = q')
    expect(outcome(() => user.instantiateSync(second, () => shared))).toBe(differs(undefined, 'Module belongs to another context'))
    other.dispose()
    isolate.dispose()
  })
})
