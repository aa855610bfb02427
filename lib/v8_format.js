'use strict'
// V8's value serialization format (what `node:v8` serialize/deserialize speak), in plain
// JavaScript, for runtimes whose `node:v8` writes another format (Bun writes JavaScriptCore's).
//
// It covers what the native codec (src/engine/v8_wire.rs) covers, the way Node writes it:
// version 15 out, versions 13-15 in; primitives, strings (Latin-1 '"' when every code unit fits,
// else UTF-16LE 'c' with V8's alignment padding; 'S' UTF-8 read too), bigints, plain objects,
// dense and sparse arrays (holey arrays written sparse), Date, RegExp, Map, Set, ArrayBuffer,
// typed arrays / DataView / Buffer as Node's host objects (written; V8's native 'B'+'V' views and
// resizable '~' buffers are read too), boxed primitives, errors (with cause), and shared or cyclic
// objects as references,
// with V8's object-id order. Anything else throws V8's `TypeError: <value> could not be cloned.`
//
// The reader is total: malformed or truncated input throws an Error (never reads out of bounds,
// never allocates more than the input could describe, never hangs), and nesting is bounded
// (MAX_DEPTH; the runtime's own stack may end it sooner, with the same RangeError).
//
// Where JavaScript cannot see what V8 sees: a proxy is printed as its most likely target would be
// (V8 prints the target); an exotic builtin given Object.prototype with setPrototypeOf passes for a
// plain object; a RegExp's source is what its `source` getter says (JavaScriptCore escapes non-ASCII
// there, an equivalent pattern); an array's extra properties cost an Object.keys per array.
//
// serialize(value) -> Buffer (a Uint8Array where there is no Buffer); deserialize(bytes) -> value,
// bytes a Buffer, Uint8Array or ArrayBuffer; values read never share memory with the input;
// isSmall(value, budget) -> whether a value is small enough for this writer to beat Node's.

const VERSION = 15
/** Deepest nesting of objects accepted either way, as in the native codec. */
const MAX_DEPTH = 10000

// Tags (src/engine/v8_wire.rs `mod tag`, V8's SerializationTag).
const T_VERSION = 0xff
const T_PADDING = 0x00
const T_VERIFY_OBJECT_COUNT = 0x3f // ?
const T_THE_HOLE = 0x2d // -
const T_UNDEFINED = 0x5f // _
const T_NULL = 0x30 // 0
const T_TRUE = 0x54 // T
const T_FALSE = 0x46 // F
const T_INT32 = 0x49 // I
const T_UINT32 = 0x55 // U
const T_DOUBLE = 0x4e // N
const T_BIGINT = 0x5a // Z
const T_UTF8_STRING = 0x53 // S
const T_ONE_BYTE_STRING = 0x22 // "
const T_TWO_BYTE_STRING = 0x63 // c
const T_OBJECT_REFERENCE = 0x5e // ^
const T_BEGIN_OBJECT = 0x6f // o
const T_END_OBJECT = 0x7b // {
const T_BEGIN_SPARSE_ARRAY = 0x61 // a
const T_END_SPARSE_ARRAY = 0x40 // @
const T_BEGIN_DENSE_ARRAY = 0x41 // A
const T_END_DENSE_ARRAY = 0x24 // $
const T_DATE = 0x44 // D
const T_TRUE_OBJECT = 0x79 // y
const T_FALSE_OBJECT = 0x78 // x
const T_NUMBER_OBJECT = 0x6e // n
const T_BIGINT_OBJECT = 0x7a // z
const T_STRING_OBJECT = 0x73 // s
const T_REGEXP = 0x52 // R
const T_BEGIN_MAP = 0x3b // ;
const T_END_MAP = 0x3a // :
const T_BEGIN_SET = 0x27 // '
const T_END_SET = 0x2c // ,
const T_ARRAY_BUFFER = 0x42 // B
const T_RESIZABLE_ARRAY_BUFFER = 0x7e // ~
const T_ARRAY_BUFFER_VIEW = 0x56 // V
const T_HOST_OBJECT = 0x5c // \
const T_ERROR = 0x72 // r

// Error sub-tags.
const E_EVAL = 0x45 // E
const E_RANGE = 0x52 // R
const E_REFERENCE = 0x46 // F
const E_SYNTAX = 0x53 // S
const E_TYPE = 0x54 // T
const E_URI = 0x55 // U
const E_MESSAGE = 0x6d // m
const E_STACK = 0x73 // s
const E_CAUSE = 0x63 // c
const E_END = 0x2e // .

// ---------------------------------------------------------------------------------------------
// Intrinsics, taken once so that user code replacing prototype methods cannot change a copy.

const NodeBuffer = typeof Buffer === 'function' ? Buffer : undefined
const ObjectPrototype = Object.prototype
const ArrayPrototype = Array.prototype
const { getPrototypeOf, keys: objectKeys, defineProperty, getOwnPropertyDescriptor, setPrototypeOf } = Object
const isArray = Array.isArray
const hasOwnProperty = ObjectPrototype.hasOwnProperty
const objectToString = ObjectPrototype.toString
const errorToString = Error.prototype.toString
const functionToString = Function.prototype.toString
const fromCharCode = String.fromCharCode

function getterOf(object, name) {
  const desc = object && getOwnPropertyDescriptor(object, name)
  return desc && desc.get
}

const TypedArrayPrototype = getPrototypeOf(Uint8Array.prototype)
const typedArrayTag = getterOf(TypedArrayPrototype, Symbol.toStringTag)
const typedArrayBuffer = getterOf(TypedArrayPrototype, 'buffer')
const typedArrayByteOffset = getterOf(TypedArrayPrototype, 'byteOffset')
const typedArrayByteLength = getterOf(TypedArrayPrototype, 'byteLength')
const dataViewBuffer = getterOf(DataView.prototype, 'buffer')
const dataViewByteOffset = getterOf(DataView.prototype, 'byteOffset')
const dataViewByteLength = getterOf(DataView.prototype, 'byteLength')
const arrayBufferByteLength = getterOf(ArrayBuffer.prototype, 'byteLength')
const arrayBufferDetached = getterOf(ArrayBuffer.prototype, 'detached')
const dateGetTime = Date.prototype.getTime
const regExpSource = getterOf(RegExp.prototype, 'source')
const regExpFlags = getterOf(RegExp.prototype, 'flags')
const numberValueOf = Number.prototype.valueOf
const stringValueOf = String.prototype.valueOf
const booleanValueOf = Boolean.prototype.valueOf
const bigintValueOf = BigInt.prototype.valueOf
const symbolDescription = getterOf(Symbol.prototype, 'description')
const mapForEach = Map.prototype.forEach
const mapSet = Map.prototype.set
const setForEach = Set.prototype.forEach
const setAdd = Set.prototype.add

const types = (() => {
  try {
    return require('node:util').types
  } catch {
    return undefined
  }
})()

/** A brand check made from a method that throws on the wrong receiver. */
function branded(method, ...args) {
  if (typeof method !== 'function') return () => false
  return (value) => {
    try {
      method.apply(value, args)
      return true
    } catch (error) {
      if (error instanceof RangeError) throw error // a stack overflow is not an answer
      return false
    }
  }
}

// Brand checks (util.types where the runtime has it, else the throwing-method kind).
const isProxy = types ? types.isProxy : () => false
const isDate = types ? types.isDate : branded(dateGetTime)
const isRegExp = types ? types.isRegExp : branded(regExpSource)
const isMap = types ? types.isMap : branded(getterOf(Map.prototype, 'size'))
const isSet = types ? types.isSet : branded(getterOf(Set.prototype, 'size'))
const isArrayBuffer = types ? types.isArrayBuffer : branded(arrayBufferByteLength)
const isSharedArrayBuffer = types
  ? types.isSharedArrayBuffer
  : typeof SharedArrayBuffer === 'function'
    ? branded(getterOf(SharedArrayBuffer.prototype, 'byteLength'))
    : () => false
const isTypedArray = (value) => typedArrayTag.call(value) !== undefined
const isDataView = types ? types.isDataView : branded(dataViewByteLength)
const isNativeError = types ? types.isNativeError : (value) => objectToString.call(value) === '[object Error]'
const isNumberObject = types ? types.isNumberObject : branded(numberValueOf)
const isStringObject = types ? types.isStringObject : branded(stringValueOf)
const isBooleanObject = types ? types.isBooleanObject : branded(booleanValueOf)
const isBigIntObject = types ? types.isBigIntObject : branded(bigintValueOf)
const isSymbolObject = types ? types.isSymbolObject : branded(Symbol.prototype.valueOf)
const isArgumentsObject = types ? types.isArgumentsObject : () => false
const isModuleNamespaceObject = types ? types.isModuleNamespaceObject : () => false
const isWeakRef = typeof WeakRef === 'function' ? branded(WeakRef.prototype.deref) : () => false
const isFinalizationRegistry =
  typeof FinalizationRegistry === 'function' ? branded(FinalizationRegistry.prototype.unregister, {}) : () => false
/** Other builtin objects V8 refuses to clone. */
const isOtherUncloneable = (value) =>
  types !== undefined &&
  (types.isWeakMap(value) ||
    types.isWeakSet(value) ||
    types.isPromise(value) ||
    types.isGeneratorObject(value) ||
    types.isMapIterator(value) ||
    types.isSetIterator(value) ||
    types.isExternal(value))

/** Prototypes of builtin iterators (no brand check exists for them): objects made on them are exotic. */
const iteratorPrototypes = new Set(
  [
    () => [][Symbol.iterator](),
    () => ''[Symbol.iterator](),
    () => /x/[Symbol.matchAll]('x'),
    () => [].values().map((x) => x),
    () => Iterator.from({ next: () => ({ done: true }) }),
  ].map((make) => {
    try {
      return getPrototypeOf(make())
    } catch {
      return undefined
    }
  }).filter((proto) => proto !== undefined && proto !== ObjectPrototype),
)

// Node's host-object type indices for ArrayBufferViews (lib/v8.js in Node).
const VIEW_INDEX_BY_NAME = {
  Int8Array: 0,
  Uint8Array: 1,
  Uint8ClampedArray: 2,
  Int16Array: 3,
  Uint16Array: 4,
  Int32Array: 5,
  Uint32Array: 6,
  Float32Array: 7,
  Float64Array: 8,
  BigInt64Array: 11,
  BigUint64Array: 12,
  Float16Array: 13,
}
const DATA_VIEW_INDEX = 9
const BUFFER_INDEX = 10
const global = globalThis
/** Constructors by Node's index (undefined where the runtime lacks one). */
const VIEW_BY_INDEX = [
  global.Int8Array,
  global.Uint8Array,
  global.Uint8ClampedArray,
  global.Int16Array,
  global.Uint16Array,
  global.Int32Array,
  global.Uint32Array,
  global.Float32Array,
  global.Float64Array,
  global.DataView,
  NodeBuffer ?? global.Uint8Array,
  global.BigInt64Array,
  global.BigUint64Array,
  global.Float16Array,
]
/** V8's own ArrayBufferView sub-tags ('V'), to constructors. */
const VIEW_BY_SUBTAG = new Map([
  [0x62, global.Int8Array], // b
  [0x42, global.Uint8Array], // B
  [0x43, global.Uint8ClampedArray], // C
  [0x77, global.Int16Array], // w
  [0x57, global.Uint16Array], // W
  [0x64, global.Int32Array], // d
  [0x44, global.Uint32Array], // D
  [0x68, global.Float16Array], // h
  [0x66, global.Float32Array], // f
  [0x46, global.Float64Array], // F
  [0x71, global.BigInt64Array], // q
  [0x51, global.BigUint64Array], // Q
  [0x3f, global.DataView], // ?
])

const ERROR_TAG_BY_NAME = {
  EvalError: E_EVAL,
  RangeError: E_RANGE,
  ReferenceError: E_REFERENCE,
  SyntaxError: E_SYNTAX,
  TypeError: E_TYPE,
  URIError: E_URI,
}

// RegExp flags as V8 numbers them.
const REGEXP_FLAG_BITS = { g: 1, i: 2, m: 4, y: 8, u: 16, s: 32, d: 128, v: 256 }
const REGEXP_FLAGS_ORDER = [
  [128, 'd'],
  [1, 'g'],
  [2, 'i'],
  [4, 'm'],
  [32, 's'],
  [16, 'u'],
  [256, 'v'],
  [8, 'y'],
]
const REGEXP_KNOWN_BITS = 1 | 2 | 4 | 8 | 16 | 32 | 128 | 256

// ---------------------------------------------------------------------------------------------
// Values that cannot be cloned, printed as V8 prints them in its message.

/** A data property found along the prototype chain without running getters or proxy traps. */
function dataProperty(object, key) {
  let o = object
  for (let hops = 0; o !== null && hops < 1000; hops++) {
    if (isProxy(o)) return undefined
    const desc = getOwnPropertyDescriptor(o, key)
    if (desc !== undefined) return 'value' in desc ? desc.value : undefined
    o = getPrototypeOf(o)
  }
  return undefined
}

function functionText(fn) {
  let text
  try {
    text = functionToString.call(fn)
  } catch {
    text = 'function () { [native code] }'
  }
  // V8 shortens long sources in messages.
  if (text.length > 128) text = `${text.slice(0, 111)}...<omitted>...${text.slice(-2)}`
  return text
}

function builtinClassName(value) {
  if (isArray(value)) return 'Array'
  if (typeof value === 'function') return 'Function'
  if (types !== undefined) {
    if (types.isWeakMap(value)) return 'WeakMap'
    if (types.isWeakSet(value)) return 'WeakSet'
    if (types.isPromise(value)) return 'Promise'
    if (types.isSharedArrayBuffer(value)) return 'SharedArrayBuffer'
  }
  if (isWeakRef(value)) return 'WeakRef'
  if (isFinalizationRegistry(value)) return 'FinalizationRegistry'
  return 'Object'
}

/** `<printed value>` as in V8's `<printed value> could not be cloned.` */
function printed(value) {
  try {
    if (typeof value === 'symbol') {
      const description = symbolDescription.call(value)
      return `Symbol(${description ?? ''})`
    }
    if (typeof value === 'function' && !isProxy(value)) return functionText(value)
    if (isProxy(value)) {
      // V8 prints a proxy's target, which JavaScript cannot reach; these are what its targets print most often.
      if (typeof value === 'function') return 'function () { [native code] }'
      return isArray(value) ? '[object Array]' : '#<Object>'
    }
    if (value === null || typeof value !== 'object') return String(value)
    const toString = dataProperty(value, 'toString')
    if (isNativeError(value) || toString === errorToString) {
      const name = dataProperty(value, 'name')
      const message = dataProperty(value, 'message')
      const n = name === undefined ? 'Error' : String(name)
      const m = message === undefined ? '' : String(message)
      return n && m ? `${n}: ${m}` : n || m
    }
    if (toString === objectToString) {
      const ctor = dataProperty(value, 'constructor')
      if (typeof ctor === 'function') {
        const name = dataProperty(ctor, 'name')
        if (typeof name === 'string' && name.length > 0) return `#<${name}>`
      }
    }
    const tag = dataProperty(value, Symbol.toStringTag)
    return `[object ${typeof tag === 'string' ? tag : builtinClassName(value)}]`
  } catch {
    return '#<Object>'
  }
}

function notCloneable(value) {
  return new TypeError(`${printed(value)} could not be cloned.`)
}

function tooDeep() {
  return new RangeError('Maximum call stack size exceeded')
}

// ---------------------------------------------------------------------------------------------
// Object kinds, by prototype first (one Map lookup) and a brand check to confirm.

const K_UNCLONEABLE = 0
const K_PLAIN = 1
const K_ARRAY = 2
const K_DATE = 3
const K_REGEXP = 4
const K_MAP = 5
const K_SET = 6
const K_ARRAY_BUFFER = 7
const K_VIEW = 8
const K_ERROR = 9
const K_NUMBER = 10
const K_STRING = 11
const K_BOOLEAN = 12
const K_BIGINT = 13

const kindByPrototype = new Map()
// (null-prototype objects take the full brand checks: any builtin can have its prototype taken away)
kindByPrototype.set(ObjectPrototype, K_PLAIN)
kindByPrototype.set(Date.prototype, K_DATE)
kindByPrototype.set(RegExp.prototype, K_REGEXP)
kindByPrototype.set(Map.prototype, K_MAP)
kindByPrototype.set(Set.prototype, K_SET)
kindByPrototype.set(ArrayBuffer.prototype, K_ARRAY_BUFFER)
kindByPrototype.set(DataView.prototype, K_VIEW)
for (const name of Object.keys(VIEW_INDEX_BY_NAME)) {
  if (typeof global[name] === 'function') kindByPrototype.set(global[name].prototype, K_VIEW)
}
if (NodeBuffer) kindByPrototype.set(NodeBuffer.prototype, K_VIEW)
for (const Ctor of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError]) {
  kindByPrototype.set(Ctor.prototype, K_ERROR)
}
kindByPrototype.set(Number.prototype, K_NUMBER)
kindByPrototype.set(String.prototype, K_STRING)
kindByPrototype.set(Boolean.prototype, K_BOOLEAN)
kindByPrototype.set(BigInt.prototype, K_BIGINT)

/** Confirms the kind a prototype suggested (prototypes can be swapped). */
function confirmed(kind, value) {
  switch (kind) {
    case K_PLAIN:
      // (an exotic builtin given Object.prototype with setPrototypeOf would pass as plain here)
      return !isArgumentsObject(value)
    case K_DATE:
      return isDate(value)
    case K_REGEXP:
      return isRegExp(value)
    case K_MAP:
      return isMap(value)
    case K_SET:
      return isSet(value)
    case K_ARRAY_BUFFER:
      return isArrayBuffer(value)
    case K_VIEW:
      return isTypedArray(value) || isDataView(value)
    case K_ERROR:
      return isNativeError(value)
    case K_NUMBER:
      return isNumberObject(value)
    case K_STRING:
      return isStringObject(value)
    case K_BOOLEAN:
      return isBooleanObject(value)
    case K_BIGINT:
      return isBigIntObject(value)
  }
  return false
}

/** The kind of an object whose prototype said nothing (class instances, other realms, ...). */
function kindByBrand(value) {
  if (isArgumentsObject(value) || isModuleNamespaceObject(value) || value === global) return K_UNCLONEABLE
  if (isDate(value)) return K_DATE
  if (isRegExp(value)) return K_REGEXP
  if (isMap(value)) return K_MAP
  if (isSet(value)) return K_SET
  if (isArrayBuffer(value)) return K_ARRAY_BUFFER
  if (isTypedArray(value) || isDataView(value)) return K_VIEW
  if (isNativeError(value)) return K_ERROR
  if (isNumberObject(value)) return K_NUMBER
  if (isStringObject(value)) return K_STRING
  if (isBooleanObject(value)) return K_BOOLEAN
  if (isBigIntObject(value)) return K_BIGINT
  if (isSymbolObject(value) || isSharedArrayBuffer(value) || isOtherUncloneable(value)) return K_UNCLONEABLE
  if (isWeakRef(value) || isFinalizationRegistry(value)) return K_UNCLONEABLE
  if (iteratorPrototypes.has(getPrototypeOf(value))) return K_UNCLONEABLE
  return K_PLAIN
}

function kindOf(value) {
  if (isArray(value)) return K_ARRAY
  const proto = getPrototypeOf(value)
  const kind = kindByPrototype.get(proto)
  if (kind !== undefined && confirmed(kind, value)) return kind
  return kindByBrand(value)
}

/** A canonical array index key ("0", "17"; not "01", "1.5", "4294967295"). */
function indexOfKey(key) {
  const c = key.charCodeAt(0)
  if (c < 0x30 || c > 0x39) return -1
  if (c === 0x30) return key.length === 1 ? 0 : -1
  const n = +key
  return n >>> 0 === n && n !== 4294967295 && '' + n === key ? n : -1
}

// ---------------------------------------------------------------------------------------------
// Writing

const NON_LATIN1 = /[^\x00-\xff]/
const SHORT_STRING = 256
let scratch // the writer's buffer, kept between calls (up to SCRATCH_KEEP bytes)
let scratchBusy = false
const SCRATCH_KEEP = 1 << 20
const hasBufferWrite = NodeBuffer !== undefined && typeof NodeBuffer.prototype.write === 'function'

function allocate(size) {
  return NodeBuffer ? NodeBuffer.allocUnsafeSlow(size) : new Uint8Array(size)
}

class Writer {
  constructor(buffer) {
    this.buf = buffer
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    this.pos = 0
    this.ids = new Map()
    this.depth = 0
  }

  grow(needed) {
    let size = this.buf.length * 2
    while (size < this.pos + needed) size *= 2
    const next = allocate(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength)
  }

  byte(b) {
    if (this.pos >= this.buf.length) this.grow(1)
    this.buf[this.pos++] = b
  }

  /** A varint of n, 0 <= n < 2^32. */
  varint(n) {
    if (this.pos + 5 > this.buf.length) this.grow(5)
    const b = this.buf
    let p = this.pos
    while (n > 0x7f) {
      b[p++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    b[p++] = n
    this.pos = p
  }

  tagVarint(tag, n) {
    if (this.pos + 6 > this.buf.length) this.grow(6)
    const b = this.buf
    let p = this.pos
    b[p++] = tag
    while (n > 0x7f) {
      b[p++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    b[p++] = n
    this.pos = p
  }

  double(d) {
    if (this.pos + 8 > this.buf.length) this.grow(8)
    this.view.setFloat64(this.pos, d, true)
    this.pos += 8
  }

  bytes(u8) {
    const n = u8.length
    if (this.pos + n > this.buf.length) this.grow(n)
    this.buf.set(u8, this.pos)
    this.pos += n
  }

  value(v) {
    switch (typeof v) {
      case 'string':
        this.string(v)
        return
      case 'number':
        this.number(v)
        return
      case 'object':
        if (v === null) this.byte(T_NULL)
        else this.object(v)
        return
      case 'boolean':
        this.byte(v ? T_TRUE : T_FALSE)
        return
      case 'undefined':
        this.byte(T_UNDEFINED)
        return
      case 'bigint':
        this.byte(T_BIGINT)
        this.bigint(v)
        return
    }
    // symbols and functions
    throw notCloneable(v)
  }

  number(v) {
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      this.tagVarint(T_INT32, ((v << 1) ^ (v >> 31)) >>> 0)
    } else {
      if (this.pos + 9 > this.buf.length) this.grow(9)
      this.buf[this.pos] = T_DOUBLE
      this.view.setFloat64(this.pos + 1, v, true)
      this.pos += 9
    }
  }

  string(s) {
    const n = s.length
    if (n > SHORT_STRING) {
      this.longString(s)
      return
    }
    // Latin-1 first; back out to two bytes at the first wider code unit.
    if (this.pos + n + 3 > this.buf.length) this.grow(n + 3)
    const b = this.buf
    const start = this.pos
    let p = start
    b[p++] = T_ONE_BYTE_STRING
    if (n > 0x7f) {
      b[p++] = (n & 0x7f) | 0x80
      b[p++] = n >>> 7
    } else {
      b[p++] = n
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i)
      if (c > 0xff) {
        this.pos = start
        this.twoByte(s)
        return
      }
      b[p++] = c
    }
    this.pos = p
  }

  longString(s) {
    const n = s.length
    if (!NON_LATIN1.test(s)) {
      this.tagVarint(T_ONE_BYTE_STRING, n)
      if (this.pos + n > this.buf.length) this.grow(n)
      if (hasBufferWrite) {
        this.buf.write(s, this.pos, n, 'latin1')
      } else {
        const b = this.buf
        const p = this.pos
        for (let i = 0; i < n; i++) b[p + i] = s.charCodeAt(i)
      }
      this.pos += n
      return
    }
    this.twoByte(s)
  }

  twoByte(s) {
    const n = s.length
    const byteLength = n * 2
    if (this.pos + byteLength + 7 > this.buf.length) this.grow(byteLength + 7)
    // V8 aligns two-byte payloads: a padding byte when the payload would start at an odd offset.
    if ((this.pos + 1 + varintLength(byteLength)) & 1) this.buf[this.pos++] = T_PADDING
    this.tagVarint(T_TWO_BYTE_STRING, byteLength)
    const b = this.buf
    let p = this.pos
    if (hasBufferWrite && n > 64) {
      b.write(s, p, byteLength, 'utf16le')
      p += byteLength
    } else {
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i)
        b[p++] = c & 0xff
        b[p++] = c >>> 8
      }
    }
    this.pos = p
  }

  /** A property key: canonical array indexes as numbers (as V8 keeps them), others as strings. */
  key(k) {
    const index = indexOfKey(k)
    if (index < 0) this.string(k)
    else if (index <= 0x7fffffff) this.tagVarint(T_INT32, (index * 2) >>> 0)
    else this.number(index)
  }

  /** The sign bit, byte length and little-endian 64-bit digits of a bigint. */
  bigint(v) {
    const negative = v < 0n
    let m = negative ? -v : v
    if (m === 0n) {
      this.varint(0)
      return
    }
    if (m <= 0xffffffffffffffffn) {
      this.varint(16 | (negative ? 1 : 0))
      if (this.pos + 8 > this.buf.length) this.grow(8)
      this.view.setBigUint64(this.pos, m, true)
      this.pos += 8
      return
    }
    const hex = m.toString(16)
    const byteLength = Math.ceil(hex.length / 16) * 8
    this.varint(byteLength * 2 + (negative ? 1 : 0))
    if (this.pos + byteLength > this.buf.length) this.grow(byteLength)
    const b = this.buf
    let p = this.pos
    let i = hex.length
    for (let written = 0; written < byteLength; written++) {
      let byte = 0
      if (i > 0) {
        byte = hexValue(hex.charCodeAt(i - 1))
        if (i > 1) byte |= hexValue(hex.charCodeAt(i - 2)) << 4
        i -= 2
      }
      b[p++] = byte
    }
    this.pos = p
  }

  object(v) {
    const ids = this.ids
    const id = ids.get(v)
    if (id !== undefined) {
      this.tagVarint(T_OBJECT_REFERENCE, id)
      return
    }
    if (isProxy(v)) throw notCloneable(v)
    const kind = kindOf(v)
    if (kind === K_UNCLONEABLE) throw notCloneable(v)
    // V8 numbers every object it writes, in write order; the reader numbers them the same way.
    ids.set(v, ids.size)
    if (++this.depth > MAX_DEPTH) throw tooDeep()
    switch (kind) {
      case K_PLAIN:
        this.plain(v)
        break
      case K_ARRAY:
        this.array(v)
        break
      case K_DATE:
        this.byte(T_DATE)
        this.double(dateGetTime.call(v))
        break
      case K_REGEXP:
        this.byte(T_REGEXP)
        this.string(regExpSource.call(v))
        this.varint(regExpFlagBits(regExpFlags.call(v)))
        break
      case K_MAP:
        this.map(v)
        break
      case K_SET:
        this.set(v)
        break
      case K_ARRAY_BUFFER:
        this.arrayBuffer(v)
        break
      case K_VIEW:
        this.view_(v)
        break
      case K_ERROR:
        this.error(v)
        break
      case K_NUMBER:
        this.byte(T_NUMBER_OBJECT)
        this.double(numberValueOf.call(v))
        break
      case K_STRING:
        this.byte(T_STRING_OBJECT)
        this.string(stringValueOf.call(v))
        break
      case K_BOOLEAN:
        this.byte(booleanValueOf.call(v) ? T_TRUE_OBJECT : T_FALSE_OBJECT)
        break
      case K_BIGINT:
        this.byte(T_BIGINT_OBJECT)
        this.bigint(bigintValueOf.call(v))
        break
    }
    this.depth--
  }

  /** Own enumerable string-keyed properties, from `keys[from]` on; returns how many were written. */
  properties(v, keys, from) {
    let count = 0
    for (let i = from; i < keys.length; i++) {
      const k = keys[i]
      const value = v[k]
      // A getter may have deleted a later property: V8 skips those.
      if (value === undefined && !hasOwnProperty.call(v, k)) continue
      this.key(k)
      this.value(value)
      count++
    }
    return count
  }

  plain(v) {
    this.byte(T_BEGIN_OBJECT)
    const count = this.properties(v, objectKeys(v), 0)
    this.tagVarint(T_END_OBJECT, count)
  }

  array(a) {
    const length = a.length
    // (Own-property checks only: an element is read once, when it is written, as V8 reads it.)
    let dense = true
    for (let i = 0; i < length; i++) {
      if (!hasOwnProperty.call(a, i)) {
        dense = false
        break
      }
    }
    if (!dense) {
      // Holey arrays go sparse, as Node writes them.
      this.tagVarint(T_BEGIN_SPARSE_ARRAY, length)
      const count = this.properties(a, objectKeys(a), 0)
      this.tagVarint(T_END_SPARSE_ARRAY, count)
      this.varint(length)
      return
    }
    this.tagVarint(T_BEGIN_DENSE_ARRAY, length)
    for (let i = 0; i < length; i++) {
      const value = a[i]
      // (an element deleted by a getter meanwhile is a hole, as in V8)
      if (value === undefined && !hasOwnProperty.call(a, i)) this.byte(T_THE_HOLE)
      else this.value(value)
    }
    // Then the other properties: the keys after the indexes.
    const keys = objectKeys(a)
    let from = Math.min(length, keys.length)
    while (from > 0 && indexOfKey(keys[from - 1]) < 0) from--
    while (from < keys.length && indexOfKey(keys[from]) >= 0) from++
    const count = from < keys.length ? this.properties(a, keys, from) : 0
    this.tagVarint(T_END_DENSE_ARRAY, count)
    this.varint(length)
  }

  map(m) {
    // The entries are taken first, as V8 does, so that getters run meanwhile cannot change them.
    const entries = []
    mapForEach.call(m, (value, key) => {
      entries.push(key, value)
    })
    this.byte(T_BEGIN_MAP)
    for (let i = 0; i < entries.length; i++) this.value(entries[i])
    this.tagVarint(T_END_MAP, entries.length)
  }

  set(s) {
    const entries = []
    setForEach.call(s, (value) => {
      entries.push(value)
    })
    this.byte(T_BEGIN_SET)
    for (let i = 0; i < entries.length; i++) this.value(entries[i])
    this.tagVarint(T_END_SET, entries.length)
  }

  arrayBuffer(buffer) {
    const length = arrayBufferByteLength.call(buffer)
    if (length === 0 && isDetached(buffer)) {
      throw new TypeError('An ArrayBuffer is detached and could not be cloned.')
    }
    this.tagVarint(T_ARRAY_BUFFER, length)
    this.bytes(new Uint8Array(buffer, 0, length))
  }

  /** A typed array, DataView or Buffer, as Node's host object: type index, byte length, bytes. */
  view_(v) {
    const name = typedArrayTag.call(v)
    let index, buffer, offset, length
    if (name === undefined) {
      index = DATA_VIEW_INDEX
      buffer = dataViewBuffer.call(v)
      offset = dataViewByteOffset.call(v)
      length = dataViewByteLength.call(v)
    } else {
      index = NodeBuffer !== undefined && v.constructor === NodeBuffer ? BUFFER_INDEX : VIEW_INDEX_BY_NAME[name]
      buffer = typedArrayBuffer.call(v)
      offset = typedArrayByteOffset.call(v)
      length = typedArrayByteLength.call(v)
    }
    if (index === undefined) throw new TypeError(`Unserializable host object: ${printed(v)}`)
    this.byte(T_HOST_OBJECT)
    this.varint(index)
    this.varint(length)
    this.bytes(new Uint8Array(buffer, offset, length))
  }

  error(e) {
    const messageDesc = getOwnPropertyDescriptor(e, 'message')
    const causeDesc = getOwnPropertyDescriptor(e, 'cause')
    this.byte(T_ERROR)
    const prototypeTag = ERROR_TAG_BY_NAME[String(e.name)]
    if (prototypeTag !== undefined) this.byte(prototypeTag)
    if (messageDesc !== undefined && 'value' in messageDesc) {
      this.byte(E_MESSAGE)
      this.string(String(messageDesc.value))
    }
    const stack = e.stack
    if (typeof stack === 'string') {
      this.byte(E_STACK)
      this.string(stack)
    }
    if (causeDesc !== undefined && 'value' in causeDesc) {
      this.byte(E_CAUSE)
      this.value(causeDesc.value)
    }
    this.byte(E_END)
  }
}

function isDetached(buffer) {
  if (arrayBufferDetached !== undefined) return arrayBufferDetached.call(buffer)
  try {
    new Uint8Array(buffer)
    return false
  } catch {
    return true
  }
}

function varintLength(n) {
  let length = 1
  while (n > 0x7f) {
    n >>>= 7
    length++
  }
  return length
}

function hexValue(c) {
  return c <= 0x39 ? c - 0x30 : c - 0x57 // '0'-'9', 'a'-'f' (toString(16) is lower case)
}

function regExpFlagBits(flags) {
  let bits = 0
  for (let i = 0; i < flags.length; i++) bits |= REGEXP_FLAG_BITS[flags[i]] ?? 0
  return bits
}

/**
 * Whether `value` holds at most `budget` properties, elements and entries in all, found without
 * running any user code (descriptors only: getters are not followed, proxies count as large).
 * A writer with a high fixed cost (`v8.serialize`) loses to this one on such values.
 */
function isSmall(value, budget) {
  let left = budget
  const pending = [value]
  while (pending.length > 0) {
    const v = pending.pop()
    if (v === null || typeof v !== 'object') continue
    if (isProxy(v)) return false
    if (ArrayBuffer.isView(v)) {
      left -= 1 // (bytes are copied as a block either way; not indexes to enumerate)
      continue
    }
    if (isArray(v)) {
      const length = v.length
      if ((left -= length) < 0) return false
      for (let i = 0; i < length; i++) {
        const desc = getOwnPropertyDescriptor(v, i)
        if (desc !== undefined) pending.push(desc.value)
      }
      continue
    }
    const keys = objectKeys(v)
    if (keys.length === 0 && (isMap(v) || isSet(v))) {
      // (entries are not followed: a few small ones are cheap for either writer)
      if ((left -= v.size) < 0) return false
      continue
    }
    if ((left -= keys.length) < 0) return false
    for (let i = 0; i < keys.length; i++) {
      const desc = getOwnPropertyDescriptor(v, keys[i])
      if (desc !== undefined) pending.push(desc.value)
    }
  }
  return true
}

/** The V8 serialization (version 15) of `value`, as a Buffer (Uint8Array without Buffer). */
function serialize(value) {
  // A getter can serialize again while we are writing: that call gets its own buffer.
  const reuse = !scratchBusy
  let buffer = reuse && scratch !== undefined ? scratch : allocate(256)
  if (reuse) scratchBusy = true
  try {
    const w = new Writer(buffer)
    w.buf[0] = T_VERSION
    w.buf[1] = VERSION
    w.pos = 2
    w.value(value)
    buffer = w.buf
    const out = NodeBuffer ? NodeBuffer.allocUnsafe(w.pos) : new Uint8Array(w.pos)
    out.set(buffer.subarray(0, w.pos))
    return out
  } finally {
    if (reuse) {
      if (buffer.length <= SCRATCH_KEEP) scratch = buffer
      scratchBusy = false
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

class MalformedError extends Error {}
MalformedError.prototype.name = 'Error'

function malformed(why) {
  return new MalformedError(`Unable to deserialize cloned data: ${why}`)
}

const PENDING = Symbol('pending') // an object id read but not yet made (V8 reserves ids first)
const utf8Decoder = new TextDecoder('utf-8')
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const isBun = typeof process === 'object' && process !== null && process.versions != null && !!process.versions.bun
const bufferProto = NodeBuffer?.prototype
const latin1Slice =
  bufferProto === undefined
    ? undefined
    : !isBun && typeof bufferProto.latin1Slice === 'function'
      ? (b, start, end) => b.latin1Slice(start, end)
      : (b, start, end) => b.toString('latin1', start, end)
const ucs2Slice =
  bufferProto === undefined
    ? undefined
    : !isBun && typeof bufferProto.ucs2Slice === 'function'
      ? (b, start, end) => b.ucs2Slice(start, end)
      : (b, start, end) => b.toString('utf16le', start, end)

// Short one-byte keys repeat (objects of one shape): a small cache of decoded keys by their bytes.
const KEY_CACHE_SIZE = 4096
const KEY_CACHE_MAX_LENGTH = 32
const keyCache = new Array(KEY_CACHE_SIZE).fill('')

class Reader {
  constructor(bytes, buffersAsUint8Array) {
    this.b = bytes
    this.buffersAsUint8Array = buffersAsUint8Array
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.pos = 0
    this.end = bytes.length
    this.objects = []
    this.depth = 0
    this.version = 0
  }

  header() {
    if (this.end < 1 || this.b[0] !== T_VERSION) throw malformed('missing version header')
    this.pos = 1
    const version = this.varint()
    if (version < 13 || version > VERSION) throw malformed(`unsupported format version ${version}`)
    this.version = version
  }

  byte() {
    if (this.pos >= this.end) throw malformed('truncated')
    return this.b[this.pos++]
  }

  /** The next tag, past padding. */
  tag() {
    const b = this.b
    let p = this.pos
    while (p < this.end) {
      const t = b[p++]
      if (t !== T_PADDING) {
        this.pos = p
        return t
      }
    }
    throw malformed('truncated')
  }

  peekTag() {
    const b = this.b
    let p = this.pos
    while (p < this.end && b[p] === T_PADDING) p++
    this.pos = p
    if (p >= this.end) throw malformed('truncated')
    return b[p]
  }

  /** A varint read as V8 reads a uint32 one: at most 5 bytes, bits past 32 dropped. */
  varint() {
    const b = this.b
    const end = this.end
    let p = this.pos
    if (p < end && b[p] < 0x80) {
      this.pos = p + 1
      return b[p]
    }
    let result = 0
    let shift = 0
    for (;;) {
      if (p >= end) throw malformed('truncated')
      const byte = b[p++]
      if (shift >= 35) throw malformed('varint too long')
      result |= (byte & 0x7f) << shift
      shift += 7
      if (byte < 0x80) break
    }
    this.pos = p
    return result >>> 0
  }

  /** A byte length that must fit in what is left. */
  length() {
    const n = this.varint()
    if (n > this.end - this.pos) throw malformed('length past the end')
    return n
  }

  double() {
    if (this.pos + 8 > this.end) throw malformed('truncated')
    const d = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return d
  }

  value() {
    let t = this.tag()
    // (old writers' object counts: skipped, then the value that follows)
    while (t === T_VERIFY_OBJECT_COUNT) {
      this.varint()
      t = this.tag()
    }
    switch (t) {
      case T_INT32: {
        const z = this.varint()
        return (z >>> 1) ^ -(z & 1)
      }
      case T_ONE_BYTE_STRING:
        return this.oneByte(this.length())
      case T_DOUBLE:
        return this.double()
      case T_UNDEFINED:
        return undefined
      case T_NULL:
        return null
      case T_TRUE:
        return true
      case T_FALSE:
        return false
      case T_TWO_BYTE_STRING:
        return this.twoByte(this.length())
      case T_UTF8_STRING:
        return this.utf8(this.length())
      case T_UINT32:
        return this.varint()
      case T_BIGINT:
        return this.bigint()
      case T_OBJECT_REFERENCE: {
        const id = this.varint()
        const object = id < this.objects.length ? this.objects[id] : PENDING
        if (object === PENDING) throw malformed('bad object reference')
        // V8 reads a view after any ArrayBuffer, a referenced one too.
        if (object instanceof ArrayBuffer && this.pos < this.end) return this.maybeView(object)
        return object
      }
    }
    if (++this.depth > MAX_DEPTH) throw tooDeep()
    const object = this.object(t)
    this.depth--
    return object
  }

  object(t) {
    switch (t) {
      case T_BEGIN_OBJECT:
        return this.plain()
      case T_BEGIN_DENSE_ARRAY:
        return this.denseArray()
      case T_BEGIN_SPARSE_ARRAY:
        return this.sparseArray()
      case T_DATE: {
        const id = this.reserve()
        return (this.objects[id] = new Date(this.double()))
      }
      case T_TRUE_OBJECT:
      case T_FALSE_OBJECT: {
        const id = this.reserve()
        return (this.objects[id] = new Boolean(t === T_TRUE_OBJECT))
      }
      case T_NUMBER_OBJECT: {
        const id = this.reserve()
        return (this.objects[id] = new Number(this.double()))
      }
      case T_BIGINT_OBJECT: {
        const id = this.reserve()
        return (this.objects[id] = Object(this.bigint()))
      }
      case T_STRING_OBJECT: {
        const id = this.reserve()
        return (this.objects[id] = new String(this.string()))
      }
      case T_REGEXP:
        return this.regexp()
      case T_BEGIN_MAP:
        return this.map()
      case T_BEGIN_SET:
        return this.set()
      case T_ARRAY_BUFFER: {
        const id = this.reserve()
        const buffer = this.copy(this.length())
        this.objects[id] = buffer
        return this.maybeView(buffer)
      }
      case T_RESIZABLE_ARRAY_BUFFER:
        return this.resizableArrayBuffer()
      case T_HOST_OBJECT:
        return this.hostObject()
      case T_ERROR:
        return this.error()
    }
    throw malformed(`unknown tag 0x${t.toString(16)}`)
  }

  /** The next n bytes, copied into an ArrayBuffer of their own. */
  copy(n) {
    const p = this.pos
    const out = new Uint8Array(n)
    out.set(this.b.subarray(p, p + n))
    this.pos = p + n
    return out.buffer
  }

  reserve() {
    const id = this.objects.length
    this.objects.push(PENDING)
    return id
  }

  oneByte(n) {
    const b = this.b
    const p = this.pos
    this.pos = p + n
    if (n <= 8) {
      switch (n) {
        case 0:
          return ''
        case 1:
          return fromCharCode(b[p])
        case 2:
          return fromCharCode(b[p], b[p + 1])
        case 3:
          return fromCharCode(b[p], b[p + 1], b[p + 2])
        case 4:
          return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3])
      }
      let s = fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3])
      for (let i = p + 4; i < p + n; i++) s += fromCharCode(b[i])
      return s
    }
    if (latin1Slice !== undefined) return latin1Slice(b, p, p + n)
    let s = ''
    for (let i = p; i < p + n; i += 4096) s += fromCharCode.apply(null, b.subarray(i, Math.min(i + 4096, p + n)))
    return s
  }

  /** A one-byte property key, through the key cache. */
  oneByteKey(n) {
    if (n > KEY_CACHE_MAX_LENGTH || n === 0) return this.oneByte(n)
    const b = this.b
    const p = this.pos
    let h = n
    for (let i = p; i < p + n; i++) h = (Math.imul(h, 31) + b[i]) | 0
    const slot = (h ^ (h >>> 13)) & (KEY_CACHE_SIZE - 1)
    const cached = keyCache[slot]
    if (cached.length === n) {
      let i = 0
      while (i < n && cached.charCodeAt(i) === b[p + i]) i++
      if (i === n) {
        this.pos = p + n
        return cached
      }
    }
    const s = this.oneByte(n)
    keyCache[slot] = s
    return s
  }

  twoByte(n) {
    if (n & 1) throw malformed('odd two-byte string length')
    const b = this.b
    const p = this.pos
    this.pos = p + n
    if (ucs2Slice !== undefined && n > 32) return ucs2Slice(b, p, p + n)
    let s = ''
    for (let i = p; i < p + n; i += 2) s += fromCharCode(b[i] | (b[i + 1] << 8))
    return s
  }

  utf8(n) {
    const p = this.pos
    this.pos = p + n
    return utf8Decoder.decode(this.b.subarray(p, p + n))
  }

  /** A string value (error messages, regexp sources, boxed strings). */
  string() {
    const t = this.tag()
    if (t === T_ONE_BYTE_STRING) return this.oneByte(this.length())
    if (t === T_TWO_BYTE_STRING) return this.twoByte(this.length())
    if (t === T_UTF8_STRING) return this.utf8(this.length())
    throw malformed('expected a string')
  }

  bigint() {
    const bitfield = this.varint()
    const n = (bitfield >>> 1) & 0x3fffffff
    if (n > this.end - this.pos) throw malformed('length past the end')
    const negative = (bitfield & 1) === 1
    const p = this.pos
    this.pos = p + n
    let m
    if (n === 0) return 0n
    if (n === 8) {
      m = this.view.getBigUint64(p, true)
    } else {
      // Hex, most significant byte first: linear, where shifting digit by digit would not be.
      let hex = '0x'
      for (let i = p + n - 1; i >= p; i--) hex += HEX[this.b[i]]
      m = BigInt(hex)
    }
    return negative ? -m : m
  }

  /** A property key: a string or a number (V8 refuses anything else). */
  key() {
    const t = this.tag()
    if (t === T_ONE_BYTE_STRING) return this.oneByteKey(this.length())
    if (t === T_INT32) {
      const z = this.varint()
      return (z >>> 1) ^ -(z & 1)
    }
    this.pos--
    const k = this.value()
    if (typeof k !== 'string' && typeof k !== 'number') throw malformed('bad property key')
    return k
  }

  /** Properties up to `endTag`, defined as own data properties; returns how many. */
  properties(object, endTag, proto) {
    let count = 0
    for (;;) {
      if (this.peekTag() === endTag) {
        this.pos++
        return count
      }
      const k = this.key()
      const v = this.value()
      // Defined, never set: a key the prototype has ("__proto__", a setter) stays an own property.
      if (k in proto) defineProperty(object, k, { value: v, writable: true, enumerable: true, configurable: true })
      else object[k] = v
      count++
    }
  }

  plain() {
    const object = {}
    this.objects.push(object)
    const count = this.properties(object, T_END_OBJECT, ObjectPrototype)
    if (this.varint() !== count) throw malformed('property count mismatch')
    return object
  }

  denseArray() {
    const length = this.varint()
    // Every element takes at least a byte: a longer length is malformed, not a big allocation.
    if (length > this.end - this.pos) throw malformed('array length past the end')
    const array = []
    this.objects.push(array)
    let packed = true
    for (let i = 0; i < length; i++) {
      if (this.peekTag() === T_THE_HOLE) {
        this.pos++
        packed = false
        array.length = i + 1
        continue
      }
      const v = this.value()
      if (packed) array.push(v)
      else array[i] = v
    }
    const count = this.properties(array, T_END_DENSE_ARRAY, ArrayPrototype)
    if (this.varint() !== count || this.varint() !== length) throw malformed('dense array counts mismatch')
    return array
  }

  sparseArray() {
    const length = this.varint()
    const array = []
    array.length = length
    this.objects.push(array)
    const count = this.properties(array, T_END_SPARSE_ARRAY, ArrayPrototype)
    if (this.varint() !== count || this.varint() !== length) throw malformed('sparse array counts mismatch')
    return array
  }

  regexp() {
    const id = this.reserve()
    const source = this.string()
    const bits = this.varint()
    if (bits & ~REGEXP_KNOWN_BITS) throw malformed('unknown regexp flags')
    let flags = ''
    for (const [bit, flag] of REGEXP_FLAGS_ORDER) if (bits & bit) flags += flag
    let re
    try {
      re = new RegExp(source, flags)
    } catch {
      throw malformed('invalid regexp')
    }
    return (this.objects[id] = re)
  }

  map() {
    const map = new Map()
    this.objects.push(map)
    let count = 0
    while (this.peekTag() !== T_END_MAP) {
      const k = this.value()
      const v = this.value()
      mapSet.call(map, k, v)
      count += 2
    }
    this.pos++
    if (this.varint() !== count) throw malformed('map size mismatch')
    return map
  }

  set() {
    const set = new Set()
    this.objects.push(set)
    let count = 0
    while (this.peekTag() !== T_END_SET) {
      setAdd.call(set, this.value())
      count++
    }
    this.pos++
    if (this.varint() !== count) throw malformed('set size mismatch')
    return set
  }

  resizableArrayBuffer() {
    const id = this.reserve()
    const n = this.varint()
    const max = this.varint()
    if (n > max || n > this.end - this.pos) throw malformed('bad resizable ArrayBuffer')
    let buffer
    try {
      buffer = new ArrayBuffer(n, { maxByteLength: max })
    } catch {
      throw malformed('resizable ArrayBuffer too large')
    }
    new Uint8Array(buffer).set(this.b.subarray(this.pos, this.pos + n))
    this.pos += n
    this.objects[id] = buffer
    return this.maybeView(buffer)
  }

  /** V8's own view encoding: 'V' right after the ArrayBuffer it looks at. */
  maybeView(buffer) {
    let p = this.pos
    while (p < this.end && this.b[p] === T_PADDING) p++
    if (p >= this.end || this.b[p] !== T_ARRAY_BUFFER_VIEW) return buffer
    this.pos = p + 1
    const subtag = this.byte()
    const offset = this.varint()
    const length = this.varint()
    if (this.version >= 14) this.varint() // flags (length tracking, resizable backing): not kept
    const bufferLength = arrayBufferByteLength.call(buffer)
    if (offset > bufferLength || length > bufferLength - offset) throw malformed('view out of range')
    const Ctor = VIEW_BY_SUBTAG.get(subtag)
    if (Ctor === undefined) throw malformed('unknown view type')
    const id = this.reserve()
    const size = Ctor.BYTES_PER_ELEMENT ?? 1
    if (offset % size !== 0 || length % size !== 0) throw malformed('misaligned view')
    return (this.objects[id] = new Ctor(buffer, offset, Ctor === DataView ? length : length / size))
  }

  /** Node's host objects: ArrayBufferViews as type index, byte length, bytes (copied). */
  hostObject() {
    const id = this.reserve()
    const index = this.varint()
    const n = this.length()
    const Ctor = VIEW_BY_INDEX[index]
    if (Ctor === undefined) throw malformed('unknown host object')
    const size = Ctor.BYTES_PER_ELEMENT ?? 1
    if (n % size !== 0) throw malformed('misaligned view')
    const buffer = this.copy(n)
    let view
    if (Ctor === NodeBuffer && !this.buffersAsUint8Array) view = NodeBuffer.from(buffer, 0, n)
    else if (Ctor === NodeBuffer) view = new Uint8Array(buffer, 0, n)
    else if (Ctor === DataView) view = new DataView(buffer, 0, n)
    else view = new Ctor(buffer, 0, n / size)
    return (this.objects[id] = view)
  }

  error() {
    // The error is made (and numbered) before its fields, so that a cause can refer back to it.
    const id = this.reserve()
    let Ctor = Error
    let error
    let hasStack = false
    const made = () => {
      if (error === undefined) {
        error = new Ctor()
        this.objects[id] = error
      }
      return error
    }
    for (;;) {
      const t = this.varint()
      switch (t) {
        case E_EVAL:
        case E_RANGE:
        case E_REFERENCE:
        case E_SYNTAX:
        case E_TYPE:
        case E_URI:
          Ctor = ERROR_CTOR_BY_TAG[t]
          if (error !== undefined) setPrototypeOf(error, Ctor.prototype)
          break
        case E_MESSAGE: {
          const message = this.string()
          defineProperty(made(), 'message', { value: message, writable: true, enumerable: false, configurable: true })
          break
        }
        case E_STACK: {
          const stack = this.string()
          defineProperty(made(), 'stack', { value: stack, writable: true, enumerable: false, configurable: true })
          hasStack = true
          break
        }
        case E_CAUSE: {
          made()
          const cause = this.value()
          defineProperty(error, 'cause', { value: cause, writable: true, enumerable: false, configurable: true })
          break
        }
        case E_END: {
          const e = made()
          if (!hasStack) {
            // No stack in the data: V8 leaves it undefined rather than giving the reader's own.
            try {
              defineProperty(e, 'stack', { value: undefined, writable: true, enumerable: false, configurable: true })
            } catch {}
          }
          return e
        }
        default:
          throw malformed('unknown error field')
      }
    }
  }
}

const ERROR_CTOR_BY_TAG = {
  [E_EVAL]: EvalError,
  [E_RANGE]: RangeError,
  [E_REFERENCE]: ReferenceError,
  [E_SYNTAX]: SyntaxError,
  [E_TYPE]: TypeError,
  [E_URI]: URIError,
}

/**
 * The value V8-serialized in `bytes` (a Uint8Array or Buffer; versions 13-15). Node's Buffers
 * read back as Buffers, as `v8.deserialize` does, unless `options.buffersAsUint8Array` (what a
 * V8 that knows no Buffer, like isolated-vm's, gives).
 */
function deserialize(bytes, options) {
  if (!(bytes instanceof Uint8Array)) {
    if (ArrayBuffer.isView(bytes)) bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    else if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes)
    else throw new TypeError('deserialize() takes a Buffer, a Uint8Array or an ArrayBuffer')
  }
  // Node's string slicing methods live on Buffer: view the same bytes as one (no copy).
  if (NodeBuffer !== undefined && !(bytes instanceof NodeBuffer)) {
    bytes = NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  const r = new Reader(bytes, !!options?.buffersAsUint8Array)
  r.header()
  const value = r.value()
  return value
}

module.exports = { serialize, isSmall, deserialize, MAX_DEPTH, VERSION }
