import { describe, expect, it } from 'vitest'
import { createRequire } from 'node:module'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { types } from 'node:util'
import * as v8 from 'node:v8'
import { onQuickJS } from './ivm'

const require = createRequire(import.meta.url)
const root = join(__dirname, '..')
const codec: {
  serialize(value: unknown): Uint8Array
  deserialize(bytes: Uint8Array): any
  MAX_DEPTH: number
} = require('../lib/v8_format.js')

// ---------------------------------------------------------------------------------------------
// Structural equality: types and prototypes, -0 and NaN, holes, extra array properties, and the
// shape of the object graph (a value shared or cyclic on one side is shared the same way on the other).

function difference(a: any, b: any, path = '$', pairs = new Map<object, object>(), back = new Map<object, object>()): string | undefined {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`
  if (a === null || b === null || (typeof a !== 'object' && typeof a !== 'function')) {
    return Object.is(a, b) ? undefined : `${path}: ${show(a)} vs ${show(b)}`
  }
  if (pairs.has(a) || back.has(b)) {
    return pairs.get(a) === b && back.get(b) === a ? undefined : `${path}: shared or cyclic structure differs`
  }
  pairs.set(a, b)
  back.set(b, a)
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: prototypes differ (${tagOf(a)} vs ${tagOf(b)})`
  const tag = tagOf(a)
  if (tag !== tagOf(b)) return `${path}: ${tag} vs ${tagOf(b)}`
  if (types.isDate(a)) return Object.is(a.getTime(), b.getTime()) ? undefined : `${path}: dates differ`
  if (types.isRegExp(a)) return a.source === b.source && a.flags === b.flags ? undefined : `${path}: ${a} vs ${b}`
  if (types.isBoxedPrimitive(a)) return Object.is(a.valueOf(), b.valueOf()) ? undefined : `${path}: boxed values differ`
  if (types.isArrayBuffer(a)) return sameBytes(new Uint8Array(a), new Uint8Array(b)) ? undefined : `${path}: ArrayBuffer bytes differ`
  if (ArrayBuffer.isView(a)) {
    if (a.constructor !== b.constructor) return `${path}: ${a.constructor.name} vs ${b.constructor.name}`
    const bytes = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
    return sameBytes(bytes(a), bytes(b)) ? undefined : `${path}: view bytes differ`
  }
  if (types.isMap(a) || types.isSet(a)) {
    if (a.size !== b.size) return `${path}: sizes ${a.size} vs ${b.size}`
    const ea = [...a.entries()]
    const eb = [...b.entries()]
    for (let i = 0; i < ea.length; i++) {
      const d = difference(ea[i][0], eb[i][0], `${path}<key ${i}>`, pairs, back) ?? difference(ea[i][1], eb[i][1], `${path}<value ${i}>`, pairs, back)
      if (d) return d
    }
    return undefined
  }
  if (types.isNativeError(a)) {
    const names = (e: object) => Object.getOwnPropertyNames(e).sort().join()
    if (names(a) !== names(b)) return `${path}: error properties ${names(a)} vs ${names(b)}`
    for (const key of ['name', 'message', 'stack']) if (a[key] !== b[key]) return `${path}.${key}: ${show(a[key])} vs ${show(b[key])}`
    return 'cause' in a ? difference(a.cause, b.cause, `${path}.cause`, pairs, back) : undefined
  }
  // Arrays and plain objects: every own property, in order, with its attributes.
  const ka = Reflect.ownKeys(a)
  const kb = Reflect.ownKeys(b)
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return `${path}: keys [${ka.map(String).slice(0, 20)}] vs [${kb.map(String).slice(0, 20)}]`
  for (const k of ka) {
    const da = Object.getOwnPropertyDescriptor(a, k)!
    const db = Object.getOwnPropertyDescriptor(b, k)!
    if (da.enumerable !== db.enumerable || da.writable !== db.writable || da.configurable !== db.configurable) return `${path}.${String(k)}: attributes differ`
    const d = difference(da.value, db.value, `${path}.${String(k)}`, pairs, back)
    if (d) return d
  }
  return undefined
}

const tagOf = (v: object) => Object.prototype.toString.call(v)
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v) : String(v))

function sameBytes(a: Uint8Array, b: Uint8Array) {
  return a.length === b.length && Buffer.compare(a, b) === 0
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const bytes = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'))

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function nested(depth: number, wrap: (inner: unknown) => unknown, leaf: unknown = 0) {
  let v = leaf
  for (let i = 0; i < depth; i++) v = wrap(v)
  return v
}

// ---------------------------------------------------------------------------------------------
// The values: every type the format covers, and the corners of each.

function samples(): [string, unknown][] {
  const next = random(42)
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => (next() * 256) | 0)
  const shared = { shared: true }
  const cyclic: any = { name: 'cyclic' }
  cyclic.self = cyclic
  const selfArray: any[] = [1]
  selfArray.push(selfArray)
  const selfMap = new Map<any, any>()
  selfMap.set(selfMap, selfMap)
  const selfSet = new Set<any>()
  selfSet.add(selfSet)
  const holey = [1, , 3, , ,]
  const sparse: any[] = []
  sparse[1000] = 'far'
  sparse[2 ** 32 - 2] = 'last index'
  const extra: any = [1, 2, 3]
  extra.tag = 'extra'
  extra[-1] = 'minus one'
  const sparseExtra: any = [, 'b']
  sparseExtra.name = 'sparse with props'
  const awkward = {}
  Object.defineProperty(awkward, '__proto__', { value: { polluted: true }, writable: true, enumerable: true, configurable: true })
  Object.assign(awkward, { constructor: 1, toString: 2, hasOwnProperty: 3, '': 4, 'ключ': 5, 'Ā': 6 })
  const nullProto = Object.create(null)
  nullProto.a = 1
  const typed = new ArrayBuffer(64)
  const dates = new Date(1)
  const u8 = new Uint8Array([1, 2, 3])
  const big = new Uint8Array(randomBytes(1 << 20).buffer)
  const err = new TypeError('bad type')
  const withCause = new RangeError('out of range', { cause: { code: 42, list: [shared] } })
  const noMessage = new Error()
  const numericMessage = new Error('x')
  Object.defineProperty(numericMessage, 'message', { value: 42, writable: true, configurable: true, enumerable: false })
  class Custom extends Error {}
  const custom = new Custom('custom')
  const named = new Error('named')
  named.name = 'SyntaxError'
  const errWithProps = Object.assign(new Error('props'), { code: 'E_X' })
  class Point {
    x = 1
    y = 2
    get sum() {
      return this.x + this.y
    }
  }
  const getters = {
    get computed() {
      return 'from a getter'
    },
    plain: 1,
  }
  // (Node 18 has neither the `v` flag nor Float16Array)
  const unicodeSets = (() => {
    try {
      return [new RegExp('[\\p{L}--[a-z]]', 'v')]
    } catch {
      return []
    }
  })()
  const f16 = typeof (globalThis as any).Float16Array === 'function' ? [['Float16Array', new (globalThis as any).Float16Array([1.5, -2])]] : []
  const list: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['true', true],
    ['false', false],
    ['zero', 0],
    ['negative zero', -0],
    ['small ints', [1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192]],
    ['int32 edges', [2 ** 31 - 1, -(2 ** 31), 2 ** 30, -(2 ** 30) - 1]],
    ['beyond int32', [2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, -(2 ** 53)]],
    ['doubles', [1.5, -0.1, Math.PI, Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON]],
    ['NaN and infinities', [NaN, Infinity, -Infinity, -0]],
    ['bigints', [0n, 1n, -1n, 255n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n, 2n ** 64n, -(2n ** 64n) - 1n, 3n ** 200n, -(7n ** 150n)]],
    ['empty string', ''],
    ['ascii', 'hello, world'],
    ['latin-1', 'héllo ÿ ©'],
    ['latin-1 high controls', '\x80\x9f\xa0\xff'],
    ['two-byte', 'Āb 日本語 ✓'],
    ['astral', '😀 𝄞'],
    ['lone surrogates', ['\ud800', '\udfff', 'a\ud800b', '\udc00\ud800', 'x'.repeat(70) + '\ud83d']],
    ['string lengths', [127, 128, 255, 256, 257, 300, 16383, 16384].map((n) => 'a'.repeat(n))],
    ['two-byte lengths', [1, 63, 64, 65, 127, 128, 129, 257, 8192].map((n) => 'ä'.repeat(n - 1) + 'Ā')],
    ['padding offsets', ['Ā', 'aĀ', ['a', 'Ā'], ['ab', 'Ā'], ['abc', 'Ā', 'b', 'ĀĀ'], { k: 'Ā', kk: 'ĀĀ', 'Ā': 1 }]],
    ['long ascii', 'abcdefghij'.repeat(100_000)],
    ['long latin-1', 'é'.repeat(300_000)],
    ['long two-byte', '日本'.repeat(150_000)],
    ['long mixed, wide at the end', 'a'.repeat(200_000) + 'Ā'],
    ['empty object', {}],
    ['plain object', { a: 1, b: 'two', c: [3], d: { e: null } }],
    ['awkward keys', awkward],
    ['numeric keys', { 0: 'a', 1: 'b', 10: 'c', '01': 'd', '1.5': 'e', '-1': 'f', 1e21: 'g', 2147483647: 'h', 2147483648: 'i', 4294967294: 'j', 4294967295: 'k' }],
    ['null prototype', nullProto],
    ['class instance', new Point()],
    ['getters', getters],
    ['empty array', []],
    ['dense array', [1, 'two', { three: 3 }, [4], null, undefined]],
    ['undefined elements', [undefined, undefined]],
    ['holey array', holey],
    ['all holes', new Array(5)],
    ['sparse array', sparse],
    ['array with extra properties', extra],
    ['sparse array with extra properties', sparseExtra],
    ['large array', Array.from({ length: 100_000 }, (_, i) => (i % 3 ? i : i / 7))],
    ['dates', [new Date(0), new Date(-1), new Date(8.64e15), new Date(NaN), dates, dates]],
    ['regexps', [/a/, /a\/b/gimsuyd, new RegExp(''), new RegExp('\n/'), /(?<year>\d{4})-(?<m>\d\d)/u, /é日/, ...unicodeSets]],
    ['maps', new Map<any, any>([[1, 'one'], ['k', { v: 1 }], [{ key: 'object' }, [1]], [NaN, -0], [shared, shared]])],
    ['sets', new Set<any>([1, 'one', { o: 1 }, NaN, shared, shared])],
    ['empty ArrayBuffer', new ArrayBuffer(0)],
    ['ArrayBuffer', randomBytes(1000).buffer],
    ['typed arrays', [
      new Int8Array([-128, 127]), new Uint8Array([0, 255]), new Uint8ClampedArray([0, 255]), new Int16Array([-32768, 32767]),
      new Uint16Array([65535]), new Int32Array([-(2 ** 31)]), new Uint32Array([2 ** 32 - 1]), new Float32Array([1.5, NaN]),
      new Float64Array([-0, NaN, Infinity]), new BigInt64Array([-(2n ** 63n)]), new BigUint64Array([2n ** 64n - 1n]),
    ]],
    ...(f16 as [string, unknown][]),
    ['views at offsets', [new Uint8Array(typed, 3, 5), new Int32Array(typed, 8, 2), new DataView(typed, 5, 7), new Float64Array(typed, 16, 3)]],
    ['empty views', [new Uint8Array(0), new DataView(new ArrayBuffer(0)), new Float64Array(0)]],
    ['Buffer', Buffer.from('a Buffer')],
    ['Buffer slice of the pool', Buffer.from('pooled bytes').subarray(2, 9)],
    ['large typed array', big],
    ['large Float64Array', Float64Array.from({ length: 200_000 }, (_, i) => i / 3)],
    ['boxed primitives', [Object(1), Object(-0), Object(NaN), Object('boxed'), Object('Āx'), Object(true), Object(false), Object(5n), Object(-(2n ** 80n))]],
    ['errors', [new Error('plain'), err, new RangeError('r'), new EvalError('e'), new ReferenceError('ref'), new SyntaxError('syn'), new URIError('uri')]],
    ['error with cause', withCause],
    ['error without message', noMessage],
    ['error with a number message', numericMessage],
    ['error subclass', custom],
    ['error renamed', named],
    ['error with extra properties', errWithProps],
    ['aggregate error', new AggregateError([1], 'agg')],
    ['cycle through an object', cyclic],
    ['cycle through an array', selfArray],
    ['cycle through a map', selfMap],
    ['cycle through a set', selfSet],
    ['shared references', { a: shared, b: [shared, shared], c: new Map([['s', shared]]), u8a: u8, u8b: u8, d1: dates, d2: dates }],
    ['shared buffers and views', [typed, typed, u8, u8]],
    ['nested 1000 deep (arrays)', nested(1000, (v) => [v])],
    ['nested 1000 deep (objects)', nested(1000, (v) => ({ v }))],
    ['nested 1000 deep (maps)', nested(1000, (v) => new Map([[1, v]]))],
    ['mixed records', Array.from({ length: 500 }, (_, i) => ({
      id: i, name: `user ${i}`, score: i * 1.25, active: i % 2 === 0, tags: ['a', i % 3 ? 'b' : 'ç', 'Ā'],
      at: new Date(1e12 + i), where: { lat: 1 / (i + 1), lng: -i }, big: BigInt(i) ** 5n, none: i % 4 ? null : undefined,
    }))],
  ]
  return list
}

/** Node's structured clone of a value: what every direction must give. */
const cloned = (value: unknown) => v8.deserialize(v8.serialize(value))

/** Values whose bytes may rightly differ from Node's: V8 picks dense or sparse by elements kind
 * (`new Array(5)` is holey), writes an integral number that it holds as a double (`0 * 1.25`) as
 * 'N', and ordered error fields message, cause, stack until Node 22 (stack, cause since). */
const notByteIdentical = new Set(['all holes', 'mixed records', 'error with cause'])

/** The samples that serialize small: together, one input with every tag, for corruption tests. */
function compactSample() {
  return samples().filter(([, value]) => codec.serialize(value).length < 1000)
}

// lib/v8_format.js is this package's own module (the codec used where `node:v8` does not speak
// V8's format, as on Bun); isolated-vm has nothing like it, so this suite runs on QuickJS only.
describe.runIf(onQuickJS)('lib/v8_format.js', () => {
  it('writes bytes that node:v8 reads back to the same value', () => {
    for (const [name, value] of samples()) {
      const read = v8.deserialize(Buffer.from(codec.serialize(value)))
      expect(difference(read, cloned(value)), name).toBeUndefined()
    }
  })

  it('reads what node:v8 writes', () => {
    for (const [name, value] of samples()) {
      const read = codec.deserialize(v8.serialize(value))
      expect(difference(read, cloned(value)), name).toBeUndefined()
    }
  })

  it('round-trips through its own writer and reader', () => {
    for (const [name, value] of samples()) {
      const read = codec.deserialize(codec.serialize(value))
      expect(difference(read, cloned(value)), name).toBeUndefined()
    }
  })

  // (Node 18's V8 can hold a Latin-1 string in two-byte form, literals of a source file with wider
  // characters among them, and writes it as such: equal values, other bytes)
  it.runIf(Number(process.versions.node.split('.')[0]) >= 20)('writes the very bytes node:v8 writes', () => {
    for (const [name, value] of samples()) {
      if (notByteIdentical.has(name)) continue
      const ours = codec.serialize(value)
      const theirs = v8.serialize(value)
      if (!sameBytes(ours, theirs)) {
        let at = 0
        while (ours[at] === theirs[at]) at++
        const around = (b: Uint8Array) => hex(b.subarray(Math.max(0, at - 24), at + 24))
        expect(`${name}, from byte ${at}: ${around(ours)}`).toBe(`${name}, from byte ${at}: ${around(theirs)}`)
      }
    }
  })

  it('returns a Buffer, and values that do not share memory with the input', () => {
    const out = codec.serialize({ a: new Uint8Array([1, 2]) })
    expect(Buffer.isBuffer(out)).toBe(true)
    const input = new Uint8Array(out)
    const value = codec.deserialize(input)
    input.fill(0)
    expect([...value.a]).toEqual([1, 2])
    expect(value.a.buffer.byteLength).toBe(2)
    // and it takes any Uint8Array, also one at an odd offset of a larger buffer
    const text = codec.serialize(['Ā'.repeat(40), 'é'.repeat(40)])
    const odd = new Uint8Array(text.length + 1)
    odd.set(text, 1)
    expect(codec.deserialize(odd.subarray(1))).toEqual(['Ā'.repeat(40), 'é'.repeat(40)])
  })

  it("reads V8's own encodings too: native views, UTF-8 strings, uint32, padding, versions 13 and 14", () => {
    const ab = new ArrayBuffer(16)
    new Uint8Array(ab).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
    const value = [new Uint8Array(ab, 1, 4), new Uint16Array(ab, 2, 3), ab, new DataView(ab, 4, 8), new Float64Array(ab, 8, 1), new BigInt64Array(ab)]
    const s = new v8.Serializer() // without Node's host objects: views as 'B' + 'V'
    s.writeHeader()
    s.writeValue(value)
    const native = s.releaseBuffer()
    const theirs = (() => {
      const d = new v8.Deserializer(native)
      d.readHeader()
      return d.readValue()
    })()
    const ours = codec.deserialize(native)
    expect(difference(ours, theirs)).toBeUndefined()
    expect(ours[0].buffer).toBe(ours[2])
    expect(ours[3].buffer).toBe(ours[2])

    const handmade = [
      'ff0f 53 03 e29c93', // 'S' UTF-8
      'ff0f 55 ffffffff0f', // 'U' uint32
      'ff0f 3f 01 49 02', // '?' object count, then the value
      'ff0f 00 00 41 02 00 49 02 00 22 01 61 24 00 02', // padding anywhere a tag may be
      'ff0d 42 04 01020304 56 42 01 02', // version 13: a view without flags
      'ff0e 42 04 01020304 56 42 01 02 00', // version 14: a view with flags
      'ff0f 41 02 42 02 0102 5e 00 24 00 02', // a reference to an ArrayBuffer
      'ff0f 41 02 42 04 01020304 5e 01 56 77 02 02 00 24 00 02', // a referenced buffer followed by a view
      'ff0f 72 54 6d 22 01 6d 2e', // a TypeError without a stack
      'ff0f 6f 22 01 61 49 02 7b 01 6f 5e 00 7b 00', // trailing bytes are ignored, as V8 does
      'ff0f 6f 4e 000000000000f03f 22 01 76 7b 01', // a double as a key
    ]
    for (const text of handmade) {
      const input = bytes(text)
      expect(difference(codec.deserialize(input), v8.deserialize(Buffer.from(input))), text).toBeUndefined()
    }
    if ('resizable' in ArrayBuffer.prototype) {
      const resizable = v8.serialize(new ArrayBuffer(4, { maxByteLength: 8 } as any))
      expect(hex(resizable)).toBe('ff0f7e040800000000')
      const read = codec.deserialize(resizable)
      expect(read.byteLength).toBe(4)
      expect(read.maxByteLength).toBe(8)
    }
  })

  it('keeps cycles through errors, as V8 does since Node 22', () => {
    const error: any = new Error('loop')
    error.cause = { back: error }
    const read = codec.deserialize(codec.serialize(error))
    expect(read.cause.back).toBe(read)
  })

  it('throws an Error, and never hangs, on every truncation of its input', () => {
    const sample = codec.serialize(compactSample())
    expect(sample.length).toBeGreaterThan(3000)
    for (let n = 0; n < sample.length; n++) {
      expect(() => codec.deserialize(sample.subarray(0, n)), `truncated to ${n} bytes`).toThrow(Error)
    }
  })

  it('throws only Errors, and never hangs, on random corruption (fixed seed)', () => {
    const sample = codec.serialize(compactSample())
    const next = random(0x5eed)
    let threw = 0
    const started = Date.now()
    for (let round = 0; round < 5000; round++) {
      const input = new Uint8Array(sample)
      const flips = 1 + ((next() * 4) | 0)
      for (let i = 0; i < flips; i++) {
        const at = (next() * input.length) | 0
        input[at] = next() < 0.5 ? (next() * 256) | 0 : input[at] ^ (1 << ((next() * 8) | 0))
      }
      try {
        codec.deserialize(input)
      } catch (error) {
        if (!(error instanceof Error)) throw new Error(`round ${round} threw a non-Error: ${String(error)}`)
        threw++
      }
    }
    expect(threw).toBeGreaterThan(500)
    expect(Date.now() - started).toBeLessThan(15_000)
  })

  it('rejects malformed input with an Error', () => {
    const cases: [string, string][] = [
      ['', 'empty'],
      ['49 02', 'no version header'],
      ['ff', 'no version'],
      ['ff 10 49 02', 'version 16'],
      ['ff 0c 49 02', 'version 12'],
      ['ff0f', 'no value'],
      ['ff0f 01', 'unknown tag'],
      ['ff0f 2d', 'a hole outside an array'],
      ['ff0f 22 ffffffff0f 61', 'string length past the end'],
      ['ff0f 63 03 6100 00', 'odd two-byte length'],
      ['ff0f 41 ffffffff0f', 'dense array longer than the input'],
      ['ff0f 41 01 49 02 24 00 02', 'dense array length mismatch'],
      ['ff0f 6f 22 01 61 49 02 7b 02', 'object property count mismatch'],
      ['ff0f 6f 6f 7b 00 49 02 7b 01', 'an object as a key'],
      ['ff0f 5e 00', 'reference to nothing'],
      ['ff0f 41 01 5e 01 24 00 01', 'forward reference'],
      ['ff0f 49 ffffffffff01', 'varint too long'],
      ['ff0f 52 22 01 61 c000', 'unknown regexp flag (linear)'],
      ['ff0f 52 22 01 28 00', 'invalid regexp source'],
      ['ff0f 52 22 01 61 9002', 'regexp flags u and v together'],
      ['ff0f 5c 0e 01 00', 'unknown host object index'],
      ['ff0f 5c 08 03 010203', 'misaligned Float64Array host object'],
      ['ff0f 42 02 0102 56 42 01 05 00', 'view past its buffer'],
      ['ff0f 42 04 01020304 56 77 01 02 00', 'misaligned native view'],
      ['ff0f 42 02 0102 56 7a 00 02 00', 'unknown native view type'],
      ['ff0f 72 6d 49 02 2e', 'error message not a string'],
      ['ff0f 72 78 2e', 'unknown error field'],
      ['ff0f 3b 49 02 3a 02', 'map entry without a value'],
      ['ff0f 27 49 02 2c 02', 'set size mismatch'],
      ['ff0f 7e 08 04', 'resizable buffer larger than its maximum'],
      ['ff0f 5a 10 0102', 'bigint past the end'],
    ]
    for (const [text, why] of cases) {
      expect(() => codec.deserialize(bytes(text)), why).toThrow(Error)
    }
  })

  it('refuses nesting deeper than 10,000 with a RangeError, writing and reading', () => {
    expect(codec.MAX_DEPTH).toBe(10_000)
    for (const wrap of [(v: unknown) => [v], (v: unknown) => ({ v }), (v: unknown) => new Map([[v, 1]])]) {
      expect(() => codec.serialize(nested(10_001, wrap))).toThrow(RangeError)
    }
    const deep = (n: number) => bytes('ff0f' + '4101'.repeat(n) + '4900' + '240001'.repeat(n))
    expect(codec.deserialize(deep(100))).toEqual(nested(100, (v) => [v]))
    expect(() => codec.deserialize(deep(10_001))).toThrow(RangeError)
    const started = Date.now()
    expect(() => codec.deserialize(bytes('ff0f' + '4101'.repeat(1_000_000)))).toThrow(RangeError)
    expect(() => codec.deserialize(bytes('ff0f' + '6f220161'.repeat(1_000_000)))).toThrow(RangeError)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it("names what cannot be cloned with V8's own texts, as TypeErrors", () => {
    const detached = new ArrayBuffer(8)
    structuredClone(detached, { transfer: [detached] })
    const tagged = new WeakMap()
    Object.defineProperty(tagged, Symbol.toStringTag, { value: 'Renamed' })
    const badCtor: any = new WeakMap()
    badCtor.constructor = 5
    const cases: [string, unknown][] = [
      ['symbol', Symbol('q')],
      ['symbol without description', Symbol()],
      ['registered symbol', Symbol.for('reg')],
      ['arrow function', (a: number) => a + 1],
      ['function', function named() {}],
      ['method', { m() {} }.m],
      ['class', class A {
        x() {}
      }],
      ['async function', async function af() {}],
      ['generator function', function* g() {}],
      ['long function', function aVeryLongFunctionNameToForceTruncation() {
        return 'a string that makes this source text longer than one hundred and twenty-eight characters'
      }],
      ['bound function', function b() {}.bind(null)],
      ['native function', Math.max],
      ['WeakMap', new WeakMap()],
      ['WeakSet', new WeakSet()],
      ['WeakRef', new WeakRef({})],
      ['FinalizationRegistry', new FinalizationRegistry(() => {})],
      ['Promise', Promise.resolve(1)],
      ['Proxy', new Proxy({}, {})],
      ['Proxy of an array', new Proxy([], {})],
      ['generator', (function* () {})()],
      ['symbol object', Object(Symbol('boxed'))],
      ['SharedArrayBuffer', new SharedArrayBuffer(4)],
      ['arguments', (function (..._: unknown[]) {
        return arguments
      })(1, 2)],
      ['Map iterator', new Map().entries()],
      ['array iterator', [][Symbol.iterator]()],
      ['globalThis', globalThis],
      ['WeakMap with its own toStringTag', tagged],
      ['WeakMap with a bad constructor', badCtor],
      ['WeakMap without a prototype', Object.setPrototypeOf(new WeakMap(), null)],
      ['detached ArrayBuffer', detached],
    ]
    for (const [name, value] of cases) {
      let expected = ''
      try {
        v8.serialize(value)
      } catch (e: any) {
        expected = e.message
      }
      expect(expected, `${name}: node:v8 refuses it`).toMatch(/could not be cloned\.$/)
      for (const where of [value, { nested: [1, value] }]) {
        let error: any
        try {
          codec.serialize(where)
        } catch (e) {
          error = e
        }
        expect(error, name).toBeInstanceOf(TypeError)
        expect(error.message, name).toBe(expected)
      }
    }
  })

  it('drives the addon: copies in and out of an isolate with ISOLATED_QUICKJS_JS_CODEC=1', () => {
    // lib/transfer.js picks its codec once, at load: the real flows run in a child process that
    // forces the JavaScript codec (as on Bun), through every host-side copy path.
    const child = `
const assert = require('node:assert')
const path = require('node:path')
const ivm = require(${JSON.stringify(root)})
const { helpers } = require(${JSON.stringify(join(root, 'lib', 'transfer.js'))})
assert(Object.keys(require.cache).some((p) => p.endsWith(path.join('lib', 'v8_format.js'))), 'the JavaScript codec is in use')

// One description of a value, computed the same way in the isolate and here.
const summary = function summary(root) {
  const ids = new Map()
  const walk = (v) => {
    if (v === null) return 'null'
    switch (typeof v) {
      case 'undefined': return 'u'
      case 'number': return Object.is(v, -0) ? 'n:-0' : 'n:' + v
      case 'bigint': return 'b:' + v
      case 'string': return 's:' + JSON.stringify(v)
      case 'boolean': return String(v)
    }
    if (ids.has(v)) return '#' + ids.get(v)
    ids.set(v, ids.size)
    if (v instanceof Date) return 'Date(' + v.getTime() + ')'
    if (v instanceof RegExp) return 'RegExp(' + v.source + '/' + v.flags + ')'
    if (v instanceof Map) return 'Map{' + [...v].map(([k, x]) => walk(k) + '=>' + walk(x)).join(',') + '}'
    if (v instanceof Set) return 'Set{' + [...v].map(walk).join(',') + '}'
    if (v instanceof ArrayBuffer) return 'AB[' + new Uint8Array(v).join(',') + ']'
    if (ArrayBuffer.isView(v)) {
      const name = v instanceof DataView ? 'DataView' : v[Symbol.toStringTag]
      return name + '[' + new Uint8Array(v.buffer, v.byteOffset, v.byteLength).join(',') + ']'
    }
    if (v instanceof Error) return v.name + '(' + walk(v.message) + ('cause' in v ? ', cause ' + walk(v.cause) : '') + ')'
    if (v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt) return 'Box(' + walk(v.valueOf()) + ')'
    if (Array.isArray(v)) {
      const items = []
      for (let i = 0; i < v.length; i++) items.push(i in v ? walk(v[i]) : '<hole>')
      const extra = Object.keys(v).filter((k) => !(String(Number(k)) === k && Number(k) < v.length))
      return 'A' + v.length + '[' + items.join(',') + ']{' + extra.map((k) => k + ':' + walk(v[k])).join(',') + '}'
    }
    return '{' + Object.keys(v).map((k) => JSON.stringify(k) + ':' + walk(v[k])).join(',') + '}'
  }
  return walk(root)
}

const source = \`(() => {
  const shared = { s: 1 }
  const o = {
    numbers: [0, -0, 1.5, -7, 2 ** 31, NaN, Infinity, -(2 ** 31)], bigints: [0n, -(2n ** 70n), 2n ** 64n - 1n],
    strings: ['', 'plain', 'héllo', '日本語 ✓', '\\\\ud800', 'x'.repeat(300) + 'ā', 'é'.repeat(300)],
    holes: [1, , 3], sparse: Object.assign([], { 5: 'five' }), extra: Object.assign([1, 2], { tag: 'x' }),
    date: new Date(5), re: /a+b/gi, map: new Map([[1, { x: 1 }], ['k', shared]]), set: new Set(['s', shared]),
    ab: new Uint8Array([1, 2, 3]).buffer, u16: new Uint16Array([1, 65535]), f64: new Float64Array([0.5, -0]),
    dv: new DataView(new Uint8Array([9, 8, 7]).buffer, 1, 2), b64: new BigInt64Array([-5n]),
    boxed: [new Number(1), new String('s'), new Boolean(false), Object(3n)],
    err: new RangeError('r'), list: [shared, shared], 'ключ': JSON.parse('{"__proto__": {"polluted": true}}'),
    records: Array.from({ length: 200 }, (_, i) => ({ id: i, name: 'n' + i, tags: ['a', 'ç'], at: new Date(i) })),
  }
  o.self = o
  return o
})()\`
const expected = eval(source)
const isolate = new ivm.Isolate()
const context = isolate.createContextSync()
const jail = context.global
context.evalSync(summary.toString())
const inside = (expression) => context.evalSync('summary(' + expression + ')')
const checkShape = (v, where) => {
  assert.strictEqual(v.self, v, where + ': cycle')
  assert.strictEqual(v.list[0], v.list[1], where + ': shared object')
  assert.strictEqual(v.map.get('k'), v.list[0], where + ': shared through a map')
}

// isolate -> host: an eval result with { copy: true }
const out = context.evalSync(source, { copy: true })
assert.deepStrictEqual(out, expected)
assert.strictEqual(summary(out), summary(expected))
checkShape(out, 'evalSync copy')

// host -> isolate: global.setSync with { copy: true }
jail.setSync('viaSet', expected, { copy: true })
assert.strictEqual(inside('viaSet'), summary(expected))
assert.strictEqual(context.evalSync('viaSet.self === viaSet && viaSet.list[0] === viaSet.list[1]'), true)

// ExternalCopy: copy() back here, copyInto() the isolate
const external = new ivm.ExternalCopy(expected)
const copied = external.copy()
assert.deepStrictEqual(copied, expected)
checkShape(copied, 'ExternalCopy.copy')
jail.setSync('viaExternal', external.copyInto())
assert.strictEqual(inside('viaExternal'), summary(expected))
external.release()

// a host Reference's copy
const copiedReference = new ivm.Reference(expected).copySync()
assert.deepStrictEqual(copiedReference, expected)

// a Callback receiving objects and returning some
let received
jail.setSync('callback', new ivm.Callback((value, more) => {
  received = [value, more]
  return { echoed: value.records.slice(0, 2), when: new Date(7), map: new Map([[1, [value.list[0]]]]), err: new TypeError('t', { cause: 'c' }) }
}))
const answer = context.evalSync('const value = ' + source + '; summary(callback(value, new Set([1n])))')
assert.deepStrictEqual(received[0], expected)
assert.deepStrictEqual(received[1], new Set([1n]))
checkShape(received[0], 'Callback argument')
assert.strictEqual(answer, summary({ echoed: expected.records.slice(0, 2), when: new Date(7), map: new Map([[1, [expected.list[0]]]]), err: new TypeError('t', { cause: 'c' }) }))

// what cannot be cloned, as isolated-vm reports it
assert.throws(() => jail.setSync('bad', { f() {} }, { copy: true }), { name: 'TypeError', message: 'f() {} could not be cloned.' })
assert.throws(() => new ivm.ExternalCopy([Symbol('q')]), { name: 'TypeError', message: 'Symbol(q) could not be cloned.' })
assert.throws(() => helpers.serialize(Symbol('top')), { name: 'TypeError', message: 'Unsupported type' })
isolate.dispose()
console.log('ok')
`
    const result = spawnSync(process.execPath, ['-e', child], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ISOLATED_QUICKJS_JS_CODEC: '1' },
    })
    expect(`status ${result.status}\n${result.stdout}${result.stderr}`).toBe('status 0\nok\n')
  })
})
