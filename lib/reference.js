'use strict'
// Reference: a handle to a value that lives in an isolate, or (made with `new Reference(value)`)
// in the host. Operations on an isolate value run in that isolate; on a host value, right here.
const { hide, closeShape } = require('./internal')
const native = require('./binding')
const { defineSpellings, promised, requireArgs, requireOptions } = require('./runner')
const { ExternalCopy } = require('./external_copy')
const { kWire, transferMode, timeoutOf, encode, serialize, deserialize, CopyMarker } = require('./transfer')
const { checkKey, getProperty, setProperty, deleteProperty } = require('./properties')

const kReleased = 'Reference has been released'
const kHost = Symbol('isolated-quickjs.hostValue')
const NO_HOST_VALUE = Symbol('none')

class Reference {
  constructor(value, options) {
    if (arguments.length < 1) throw new TypeError('`Reference` requires at least 1 parameter')
    requireOptions(options, 2)
    hide(this, kHost, value)
    hide(this, '_inherit', !!options?.unsafeInherit)
    hide(this, '_released', false)
    hide(this, '_hostWire', undefined)
    hide(this, '_wire', undefined)
    closeShape(this)
  }

  static fromWire(wire) {
    const reference = Object.create(Reference.prototype)
    hide(reference, '_wire', wire)
    hide(reference, kHost, NO_HOST_VALUE)
    hide(reference, '_inherit', false)
    hide(reference, '_released', false)
    hide(reference, '_hostWire', undefined)
    closeShape(reference)
    return reference
  }

  static fromHostValue(value) {
    return new Reference(value)
  }

  /** The wire of this reference, for operations and for transfer into an isolate. */
  get [kWire]() {
    if (this._isHost()) {
      if (this._released) throw new Error(kReleased)
      this._hostWire ??= native.wireHostReference(this[kHost])
      return this._hostWire
    }
    return this._wire
  }

  set [kWire](wire) {
    hide(this, '_wire', wire)
  }

  _isHost() {
    return this[kHost] !== NO_HOST_VALUE
  }

  /** The wire for an operation; a released one makes the native operation throw the text. */
  _wireChecked() {
    return this._wire
  }

  _hostValue() {
    if (this._released) throw new Error(kReleased)
    return this[kHost]
  }

  get typeof() {
    if (this._isHost()) {
      const value = this._hostValue()
      const type = value === null ? 'null' : typeof value
      // (isolated-vm knows no symbol or bigint kind: those read "object")
      return type === 'symbol' || type === 'bigint' ? 'object' : type
    }
    const wire = this._wire
    if (wire.released) throw new Error(kReleased)
    return wire.typeof
  }

  deref(options) {
    requireOptions(options, 1)
    if (!this._isHost()) throw new TypeError('Cannot dereference this from current isolate')
    const value = this._hostValue()
    if (options?.release) this.release()
    return value
  }

  derefInto(options) {
    requireOptions(options, 1)
    const wire = this._isHost() ? this[kWire] : this._wireChecked()
    // The marker is the native wire itself, so that it is recognised wherever it is returned.
    const marker = wire.derefInto()
    if (options?.release) this.release()
    closeShape(marker)
    return marker
  }

  release() {
    if (this._isHost()) {
      if (this._released) throw new Error(kReleased)
      this._released = true
      this._hostWire?.release()
      this[kHost] = undefined
    } else {
      if (this._wire.released) throw new Error(kReleased)
      this._wire.release()
    }
  }
}

/** A host value leaving a host Reference operation under TransferOptions. */
function hostResult(value, options, fallback) {
  const [mode, promise] = transferMode(options)
  const finish = (v) => {
    if (mode === 1) return deserialize(serialize(v))
    if (mode === 2) return new ExternalCopy(v)
    if (mode === 3) return new Reference(v)
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) return v
    return fallback(v)
  }
  if (promise && value && typeof value.then === 'function') return Promise.resolve(value).then(finish)
  return finish(value)
}

/**
 * A value handed to a host function by `apply` on a host Reference, transferred as isolated-vm
 * transfers it, host to host: primitives, our objects and functions as themselves, markers as
 * what they carry, anything else only under `copy`, `externalCopy` or `reference`.
 */
function hostArgument(value, options) {
  const [mode] = transferMode(options)
  if (mode === 1) return value === null || typeof value !== 'object' ? value : deserialize(serialize(value))
  if (mode === 2) return new ExternalCopy(value)
  if (mode === 3) return new Reference(value)
  if (value === null || (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol')) return value
  // A Reference arrives as a new Reference to the same value, released on its own (isolated-vm
  // transfers it; passing one twice gives two).
  if (value instanceof Reference) return value._isHost() ? new Reference(value._hostValue(), { unsafeInherit: value._inherit }) : Reference.fromWire(value._wire.duplicate())
  if (typeof value === 'function' || value instanceof ExternalCopy) return value
  if (value instanceof CopyMarker) return deserialize(value.take())
  if (value instanceof native.Wire) return value.materialize()
  if (value?.[kWire] !== undefined) return value
  throw new TypeError('A non-transferable value was passed')
}

/** Runs a host-value operation in a spelling: sync returns, async resolves, ignored drops. */
function local(mode, run) {
  if (mode === 0) return run()
  const promise = new Promise((resolve) => resolve(run()))
  if (mode === 2) promise.catch(() => {})
  return promise
}

defineSpellings(Reference, 'get', function (mode, ...args) {
  requireArgs(args, 1)
  const [property, options] = args
  requireOptions(options, 2)
  const [transfer, promise] = transferMode(options)
  const timeout = timeoutOf(options)
  if (this._isHost()) {
    const target = this._hostValue()
    // (A Reference got from one made with `unsafeInherit` inherits too, as in isolated-vm.)
    const inherit = this._inherit
    return promised(mode, promise, local(mode, () => hostResult(getProperty(target, property, inherit, !!options?.accessors), options, (v) => new Reference(v, { unsafeInherit: inherit }))))
  }
  const wire = this._wireChecked()
  checkKey(property)
  return promised(mode, promise, wire.get(mode, property, timeout, transfer, promise, !!options?.accessors))
}, { ignored: false })

defineSpellings(Reference, 'set', function (mode, ...args) {
  requireArgs(args, 2)
  const [property, value, options] = args
  requireOptions(options, 3)
  const [transfer] = transferMode(options)
  if (this._isHost()) {
    const target = this._hostValue()
    return local(mode, () => setProperty(target, property, transfer === 0 ? value : hostResult(value, options, (v) => v)))
  }
  const wire = this._wireChecked()
  checkKey(property)
  const encoded = transfer === 1 ? value : encode(value, options)
  return wire.set(mode, property, encoded, transfer === 1)
})

defineSpellings(Reference, 'delete', function (mode, ...args) {
  requireArgs(args, 1)
  if (this._isHost()) {
    const target = this._hostValue()
    return local(mode, () => deleteProperty(target, args[0]))
  }
  const wire = this._wireChecked()
  checkKey(args[0])
  return wire.delete(mode, args[0])
})

defineSpellings(Reference, 'apply', function (mode, ...args) {
  const [receiver, callArgs = [], options] = args
  if (callArgs !== undefined && !Array.isArray(callArgs)) throw new TypeError('`undefined` requires parameter 2 to be an array')
  requireOptions(options, 3)
  const [transfer, promise] = transferMode(options?.result)
  const timeout = timeoutOf(options)
  if (this._isHost()) {
    const target = this._hostValue()
    if (typeof target !== 'function') throw new TypeError('Reference is not a function')
    const thisArg = hostArgument(receiver)
    const hostArgs = callArgs.map((value) => hostArgument(value, options?.arguments))
    return promised(mode, promise, local(mode, () => hostResult(Reflect.apply(target, thisArg, hostArgs), options?.result, (v) => new Reference(v))))
  }
  const wire = this._wireChecked()
  const encoded = callArgs.map((value) => encode(value, options?.arguments))
  return promised(mode, promise, wire.apply(mode, encode(receiver), encoded, timeout, transfer, promise))
})

defineSpellings(Reference, 'copy', function (mode) {
  if (this._isHost()) {
    const target = this._hostValue()
    return local(mode, () => deserialize(serialize(target)))
  }
  return this._wireChecked().copy(mode)
}, { ignored: false })

Reference.prototype.applySyncPromise = function () {
  throw new Error('This function may not be called from the default thread')
}

module.exports = { Reference }
