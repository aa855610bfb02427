import { describe, expect, it } from 'vitest'
import ivm, { setup } from './ivm'

// isolated-vm's rules for Reference get/set/delete, measured on isolated-vm 5.0.4 and pinned
// here for both implementations: keys are strings or uint32s; the target must be an object (a
// function is not) with no proxy on its prototype chain; `get` reads own properties, refusing
// accessors (an array's `length` counts as one, as in V8) unless `accessors` is set; `set`
// deletes the key and defines a data property, so no setter runs, and a refusal is `Set failed`.

type Ref = InstanceType<typeof ivm.Reference>

/** `name | ok | result` or `name | ErrorClass | message` for each case, in order. */
function outcomes(cases: [string, () => unknown][]): string[] {
  return cases.map(([name, f]) => {
    try {
      const r = f()
      return `${name} | ok | ${r instanceof ivm.Reference ? 'Reference' : r === undefined ? 'undefined' : JSON.stringify(r)}`
    } catch (e: any) {
      return `${name} | ${e.constructor.name} | ${e.message}`
    }
  })
}

function propertyCases(name: string, r: Ref): [string, () => unknown][] {
  return [
    [`${name} set x`, () => r.setSync('x', 5)],
    [`${name} set a`, () => r.setSync('a', 6)],
    [`${name} set length`, () => r.setSync('length', 1)],
    [`${name} get y`, () => r.getSync('y')],
    [`${name} get y with accessors`, () => r.getSync('y', { accessors: true })],
    [`${name} get a`, () => r.getSync('a')],
    [`${name} get length`, () => r.getSync('length')],
    [`${name} delete a`, () => r.deleteSync('a')],
    [`${name} key -1`, () => r.getSync(-1 as any)],
    [`${name} key 1.5`, () => r.setSync(1.5 as any, 1)],
    [`${name} key {}`, () => r.deleteSync({} as any)],
  ]
}

const SOURCES = `({
  withSetter: { set x(v) { log.push('setter ' + v) }, get y() { log.push('getter'); return 1 }, a: 3 },
  frozen: Object.freeze({ a: 1 }),
  nonExtensible: Object.preventExtensions({ a: 1 }),
  proxied: new Proxy({}, {}),
  protoProxy: Object.create(new Proxy({}, {})),
  array: [1, 2, 3],
  fn: Object.assign(function f() {}, { a: 1 }),
})`

const EXPECTED = [
  'withSetter set x | ok | undefined',
  'withSetter set a | ok | undefined',
  'withSetter set length | ok | undefined',
  'withSetter get y | TypeError | Property is getter',
  'withSetter get y with accessors | ok | 1',
  'withSetter get a | ok | 6',
  'withSetter get length | ok | 1',
  'withSetter delete a | ok | undefined',
  'withSetter key -1 | TypeError | Invalid `key`',
  'withSetter key 1.5 | TypeError | Invalid `key`',
  'withSetter key {} | TypeError | Invalid `key`',
  'frozen set x | TypeError | Set failed',
  'frozen set a | TypeError | Set failed',
  'frozen set length | TypeError | Set failed',
  'frozen get y | ok | undefined',
  'frozen get y with accessors | ok | undefined',
  'frozen get a | ok | 1',
  'frozen get length | ok | undefined',
  'frozen delete a | TypeError | Delete failed',
  'frozen key -1 | TypeError | Invalid `key`',
  'frozen key 1.5 | TypeError | Invalid `key`',
  'frozen key {} | TypeError | Invalid `key`',
  // a set on a non-extensible object deletes the key before it fails to define it again
  'nonExtensible set x | TypeError | Set failed',
  'nonExtensible set a | TypeError | Set failed',
  'nonExtensible set length | TypeError | Set failed',
  'nonExtensible get y | ok | undefined',
  'nonExtensible get y with accessors | ok | undefined',
  'nonExtensible get a | ok | undefined',
  'nonExtensible get length | ok | undefined',
  'nonExtensible delete a | ok | undefined',
  'nonExtensible key -1 | TypeError | Invalid `key`',
  'nonExtensible key 1.5 | TypeError | Invalid `key`',
  'nonExtensible key {} | TypeError | Invalid `key`',
  ...['proxied', 'protoProxy'].flatMap((name) => [
    ...['set x', 'set a', 'set length', 'get y', 'get y with accessors', 'get a', 'get length', 'delete a'].map((c) => `${name} ${c} | TypeError | Object is or has proxy`),
    `${name} key -1 | TypeError | Invalid \`key\``,
    `${name} key 1.5 | TypeError | Invalid \`key\``,
    `${name} key {} | TypeError | Invalid \`key\``,
  ]),
  'array set x | ok | undefined',
  'array set a | ok | undefined',
  'array set length | TypeError | Set failed',
  'array get y | ok | undefined',
  'array get y with accessors | ok | undefined',
  'array get a | ok | 6',
  'array get length | TypeError | Property is getter',
  'array delete a | ok | undefined',
  'array key -1 | TypeError | Invalid `key`',
  'array key 1.5 | TypeError | Invalid `key`',
  'array key {} | TypeError | Invalid `key`',
  ...['set x', 'set a', 'set length', 'get y', 'get y with accessors', 'get a', 'get length', 'delete a'].map((c) => `fn ${c} | TypeError | Reference is not an object`),
  'fn key -1 | TypeError | Invalid `key`',
  'fn key 1.5 | TypeError | Invalid `key`',
  'fn key {} | TypeError | Invalid `key`',
]

describe("Reference get/set/delete follow isolated-vm's rules", () => {
  it('on isolate values, from the host', () => {
    const { isolate, context } = setup()
    context.evalSync(`globalThis.log = []; globalThis.t = ${SOURCES}`)
    const targets = context.evalSync('t', { reference: true })
    const names: string[] = context.evalSync('Object.keys(t)', { copy: true })
    const cases = names.flatMap((name) =>
      propertyCases(name, targets.getSync(name, { reference: true }) as Ref),
    )
    expect(outcomes(cases)).toEqual(EXPECTED)
    // No setter and no getter ran.
    expect(context.evalSync('log.length')).toBe(1) // the one `get y` with accessors
    isolate.dispose()
  })

  it('on host values, from the host', () => {
    const log: string[] = []
    const t = new Function('log', `return ${SOURCES}`)(log)
    const cases = Object.keys(t).flatMap((name) => propertyCases(name, new ivm.Reference(t[name])))
    expect(outcomes(cases)).toEqual(EXPECTED)
    expect(log).toEqual(['getter'])
    expect([...t.array]).toEqual([1, 2, 3])
  })

  it('on host values, from inside an isolate', () => {
    const { isolate, context } = setup()
    const log: string[] = []
    const t = new Function('log', `return ${SOURCES}`)(log)
    for (const name of Object.keys(t)) context.global.setSync(name, new ivm.Reference(t[name]))
    const inside = context.evalSync(
      `const out = []
      const cases = (name, r) => [
        ['set x', () => r.setSync('x', 5)], ['set a', () => r.setSync('a', 6)], ['set length', () => r.setSync('length', 1)],
        ['get y', () => r.getSync('y')], ['get y with accessors', () => r.getSync('y', { accessors: true })],
        ['get a', () => r.getSync('a')], ['get length', () => r.getSync('length')], ['delete a', () => r.deleteSync('a')],
        ['key -1', () => r.getSync(-1)], ['key 1.5', () => r.setSync(1.5, 1)], ['key {}', () => r.deleteSync({})],
      ]
      for (const name of ${JSON.stringify(Object.keys(t))}) {
        for (const [c, f] of cases(name, globalThis[name])) {
          try { const r = f(); out.push(name + ' ' + c + ' | ok | ' + (r === undefined ? 'undefined' : JSON.stringify(r))) }
          catch (e) { out.push(name + ' ' + c + ' | ' + e.name + ' | ' + e.message) }
        }
      }
      out`,
      { copy: true },
    )
    expect(inside).toEqual(EXPECTED)
    expect(log).toEqual(['getter'])
    isolate.dispose()
  })

  it('rejects bad keys and targets from async spellings instead of throwing', async () => {
    const { isolate, context } = setup()
    await expect(context.global.get(-1 as any)).rejects.toThrow('Invalid `key`')
    await expect(context.global.set({} as any, 1)).rejects.toThrow('Invalid `key`')
    await expect(new ivm.Reference({}).delete(1.5 as any)).rejects.toThrow('Invalid `key`')
    await expect(new ivm.Reference(() => 1).get('x')).rejects.toThrow('Reference is not an object')
    isolate.dispose()
  })
})
