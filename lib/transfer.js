'use strict'
// Host-side value transfer: TransferOptions, and host values in the form the native layer takes
// (primitives, functions, and the `Wire` objects behind our handles and markers).
const v8 = require('node:v8')
const native = require('./binding')

// The structured-clone codec for host-side copies. The native side reads and writes V8's format
// (version 15). Node's `node:v8` writes it natively, which is the fastest way to serialize a large
// value; reading, lib/v8_format.js (the same format in JavaScript) is faster than
// `v8.deserialize` at every size measured (0.5 MB mixed object: 3.2 ms against 5.7 ms; a small
// tool result: 1.3 µs against 1.9 µs; `node benchmark/codec.js`), so copies out of an isolate
// always use it. Where `node:v8` writes another format (Bun writes
// JavaScriptCore's) the JavaScript codec does both directions.
// ISOLATED_QUICKJS_JS_CODEC=1 (read once, at load) forces the JavaScript codec for writing on
// Node too: for tests.
const jsCodec = require('./v8_format')
const writer = process.env.ISOLATED_QUICKJS_JS_CODEC === '1' || !speaksV8Format(v8) ? jsCodec : v8
// A Buffer copied in comes out as a Uint8Array, as from isolated-vm (V8 knows no Buffer).
const READ_OPTIONS = { buffersAsUint8Array: true }
// Small values (a tool's result) are written by the JavaScript writer too: `v8.serialize` has a
// fixed cost of ~1.5 µs, the JavaScript writer a higher cost per object, so it takes values of
// up to SMALL_VALUE_PARTS properties, elements and entries (`isSmall` finds that out without
// running a getter; either writer then runs once).
const SMALL_VALUE_PARTS = 32
const codec = {
  serialize: (value) => (writer === jsCodec || jsCodec.isSmall(value, SMALL_VALUE_PARTS) ? jsCodec : writer).serialize(value),
  deserialize: (bytes) => jsCodec.deserialize(bytes, READ_OPTIONS),
}

function speaksV8Format(module) {
  try {
    return module.serialize(0)[0] === 0xff
  } catch {
    return false
  }
}

/** A structured clone of `value` as V8-format bytes (a Buffer). */
function serialize(value) {
  return codec.serialize(value)
}

/** The value in V8-format `bytes` (a Buffer or Uint8Array). */
function deserialize(bytes) {
  return codec.deserialize(bytes)
}

// reference.js, external_copy.js and properties.js require this module, so they are loaded on first
// use (once: `require` itself costs microseconds per call).
let classes
function lazyClasses() {
  classes ??= { Reference: require('./reference').Reference, ExternalCopy: require('./external_copy').ExternalCopy, properties: require('./properties') }
  return classes
}

const kWire = Symbol('isolated-quickjs.wire')

/**
 * The marker of `copyInto()` for a copy whose bytes are held in JavaScript: wherever it lands it
 * becomes a fresh copy of them (the native layer asks for them with `wireOf`). It may be used
 * once, as isolated-vm's markers (with or without `release`).
 */
class CopyMarker {
  #bytes
  #landed
  /** `landed()` is called when the marker is used (copyInto({ transferIn }) moves a buffer out). */
  constructor(bytes, landed) {
    this.#bytes = bytes
    this.#landed = landed
  }

  take() {
    const bytes = this.#bytes
    if (bytes === undefined) throw new Error('The return value of `copyInto()` should only be used once')
    this.#bytes = undefined
    this.#landed?.()
    return bytes
  }
}
/**
 * Marks errors found before any work starts (bad options, a released or foreign context): async
 * spellings report them as rejections, sync ones throw them, as isolated-vm does.
 */
const kRejects = Symbol('isolated-quickjs.rejects')

function rejectingError(Ctor, message) {
  const error = new Ctor(message)
  error[kRejects] = true
  return error
}
const kFromIsolate = Symbol('isolated-quickjs.fromIsolate')

/** TransferOptions → [mode, promise]; mode: 0 none, 1 copy, 2 externalCopy, 3 reference. */
const NO_TRANSFER = Object.freeze([0, false])

function transferMode(options) {
  if (options === undefined || options === null) return NO_TRANSFER
  if (typeof options !== 'object') throw new TypeError('`options` must be an object')
  const { copy, externalCopy, reference, promise } = options
  if (!!copy + !!externalCopy + !!reference > 1) {
    throw rejectingError(TypeError, 'Only one of `copy`, `externalCopy`, or `reference` may be set')
  }
  return [copy ? 1 : externalCopy ? 2 : reference ? 3 : 0, !!promise]
}

const isInt32 = (value) => Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff

/** The `timeout` option in ms, as isolated-vm reads it: a 32-bit integer; 0 or less is none. */
function timeoutOf(options) {
  const timeout = options?.timeout
  if (timeout == null) return 0
  if (!isInt32(timeout)) throw rejectingError(TypeError, '`timeout` must be a 32-bit number')
  return Math.max(timeout, 0)
}

/** `filename`, `lineOffset` and `columnOffset` of ScriptOrigin options, checked as isolated-vm does. */
const DEFAULT_ORIGIN = Object.freeze(['<isolated-vm>', 0, 0])

function checkInt32Option(name, value) {
  if (value != null && !isInt32(value)) throw rejectingError(TypeError, `\`${name}\` must be a 32-bit number`)
}

function originOf(options) {
  if (options == null) return DEFAULT_ORIGIN
  const { filename, lineOffset, columnOffset } = options
  // (The common case, nothing given, allocates nothing.)
  if (filename === undefined && lineOffset === undefined && columnOffset === undefined) return DEFAULT_ORIGIN
  if (filename != null && typeof filename !== 'string') throw rejectingError(TypeError, '`filename` must be a string')
  checkInt32Option('lineOffset', lineOffset)
  checkInt32Option('columnOffset', columnOffset)
  return [filename ?? '<isolated-vm>', lineOffset ?? 0, columnOffset ?? 0]
}

function isPrimitive(value) {
  return value === null || (typeof value !== 'object' && typeof value !== 'function')
}

/** A host value for the native layer under TransferOptions `options`. */
function encode(value, options) {
  // The common case first: a primitive with no options passes as itself.
  if (options === undefined && (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol'))) {
    return value
  }
  const [mode] = transferMode(options)
  if (mode === 1) return isPrimitive(value) ? value : native.wireCopy(value[kWire] ?? value)
  if (mode === 2) {
    const { ExternalCopy } = lazyClasses()
    return value instanceof ExternalCopy ? value[kWire] : native.wireExternalCopyOf(cloneBytes(value))
  }
  if (mode === 3) return native.wireHostReference(value)
  if (isPrimitive(value)) {
    if (typeof value === 'symbol') throw new TypeError('A non-transferable value was passed')
    return value
  }
  if (typeof value === 'function' || value instanceof native.Wire || value instanceof CopyMarker) return value
  const wire = value[kWire]
  if (wire !== undefined) return wire
  throw new TypeError('A non-transferable value was passed')
}

/** The structured clone of `value` as V8-format bytes, failing as isolated-vm fails. */
function cloneBytes(value) {
  // isolated-vm checks the top-level value before cloning it.
  if (typeof value === 'symbol') throw new TypeError('Unsupported type')
  try {
    return codec.serialize(value)
  } catch (error) {
    // isolated-vm reports clone failures as TypeErrors with V8's text; Node throws them as
    // plain Errors (DataCloneError on newer versions).
    if (error instanceof Error && /could not be cloned\.$/.test(error.message)) throw new TypeError(error.message)
    throw error
  }
}

/** The callable the host gets for an isolate function: its Reference bound as `this`. */
function callIsolateFunction(...args) {
  return this.applySync(undefined, args, { arguments: { copy: true }, result: { copy: true } })
}

/** Conversion helpers called by the native layer (`native.init`). */
const helpers = {
  serialize: cloneBytes,
  serializeAlways(value) {
    return codec.serialize(value)
  },
  deserialize(buffer) {
    return codec.deserialize(buffer)
  },
  /** An error of async work that failed at once: the spelling turns it into its rejection. */
  rejecting(error) {
    error[kRejects] = true
    return error
  },
  makeError(name, message, stack, fromIsolate) {
    const Ctor = standardErrors[name] ?? Error
    const error = new Ctor(message)
    if (Ctor === Error && name !== 'Error') {
      Object.defineProperty(error, 'name', { value: name, writable: true, configurable: true, enumerable: false })
    }
    if (stack) {
      Object.defineProperty(error, 'stack', { value: stack, writable: true, configurable: true, enumerable: false })
    }
    if (fromIsolate) error[kFromIsolate] = true
    return error
  },
  describeError(value) {
    if (!(value instanceof Error)) return undefined
    let stack = String(value.stack ?? '')
    return { name: String(value.name), message: String(value.message), stack }
  },
  wrapReference(wire) {
    return lazyClasses().Reference.fromWire(wire)
  },
  wrapFunction(wire) {
    const signature = wire.signature
    // (Bound, it prints as `function () { [native code] }`, as isolated-vm's callable does.)
    const callable = callIsolateFunction.bind(lazyClasses().Reference.fromWire(wire))
    // The isolate function's name and length, as isolated-vm gives its callable.
    Object.defineProperty(callable, 'name', { value: signature?.[0] ?? '', configurable: true })
    Object.defineProperty(callable, 'length', { value: signature?.[1] ?? 0, configurable: true })
    return callable
  },
  wrapExternalCopy(wire) {
    return lazyClasses().ExternalCopy.fromWire(wire)
  },
  /**
   * The wire behind one of our host-side objects (Reference, ExternalCopy, Callback), if any; for
   * a `CopyMarker`, the bytes it carries.
   */
  wireOf(value) {
    return value instanceof CopyMarker ? value.take() : value[kWire]
  },
  getProperty(target, key, inherit, accessors) {
    return lazyClasses().properties.getProperty(target, key, inherit, accessors)
  },
  setProperty(target, key, value) {
    lazyClasses().properties.setProperty(target, key, value)
  },
  deleteProperty(target, key) {
    lazyClasses().properties.deleteProperty(target, key)
  },
  wrapHostReference(value) {
    return lazyClasses().Reference.fromHostValue(value)
  },
  /**
   * `applySyncPromise`: reports the settled value of a host promise back to the isolate. When the
   * result is copied anyway (`copyMarkers`), a `copyInto()` marker's bytes go straight there.
   */
  awaitHost(value, id, copyMarkers) {
    Promise.resolve(value).then(
      (settled) => (copyMarkers && settled instanceof CopyMarker ? settleWithCopy(id, settled) : native.hostSettled(id, true, settled)),
      (error) => native.hostSettled(id, false, error),
    )
  },
}

/** Settles an `applySyncPromise` call with the bytes of a `copyInto()` marker (a tool's result). */
function settleWithCopy(id, marker) {
  let bytes
  try {
    bytes = marker.take()
  } catch {
    // (Used up: the usual path reports it, as for any other value.)
    native.hostSettled(id, true, marker)
    return
  }
  native.hostSettledWithCopy(id, bytes)
}

const standardErrors = { Error, TypeError, RangeError, SyntaxError, ReferenceError }

module.exports = { kWire, kFromIsolate, kRejects, rejectingError, transferMode, timeoutOf, originOf, encode, helpers, serialize, deserialize, cloneBytes, CopyMarker }
