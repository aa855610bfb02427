'use strict'
// Reference: a handle to a value that lives in an isolate.
const { defineSpellings, requireArgs, requireOptions } = require('./runner')
const { kWire, transferMode, timeoutOf, encode } = require('./transfer')

const kReleased = 'Reference has been released'

class Reference {
  constructor(...args) {
    if (args.length < 1) throw new TypeError('`Reference` requires at least 1 parameter')
    throw new TypeError('References to host values are not supported yet')
  }

  static fromWire(wire) {
    const reference = Object.create(Reference.prototype)
    reference[kWire] = wire
    return reference
  }

  _wire() {
    const wire = this[kWire]
    if (wire.released) throw new Error(kReleased)
    return wire
  }

  get typeof() {
    return this._wire().typeof
  }

  derefInto(options) {
    requireOptions(options, 1)
    const marker = new DerefMarker(this._wire().derefInto())
    if (options?.release) this.release()
    return marker
  }

  deref() {
    throw new TypeError('Cannot dereference this from current isolate')
  }

  release() {
    this[kWire].release()
  }
}

/** What `derefInto()` returns: becomes the referenced value when it lands in its isolate. */
class DerefMarker {
  constructor(wire) {
    this[kWire] = wire
  }
}

defineSpellings(Reference, 'get', function (mode, ...args) {
  requireArgs(args, 1)
  const [property, options] = args
  requireOptions(options, 2)
  const [transfer, promise] = transferMode(options)
  const timeout = timeoutOf(options)
  return this._wire().get(mode, encode(property), timeout, transfer, promise, !!options?.unsafeInherit, !!options?.accessors)
})

defineSpellings(Reference, 'set', function (mode, ...args) {
  requireArgs(args, 2)
  const [property, value, options] = args
  requireOptions(options, 3)
  const [transfer] = transferMode(options)
  const wire = this._wire()
  const encoded = transfer === 1 ? value : encode(value, options)
  return wire.set(mode, encode(property), encoded, transfer === 1)
})

defineSpellings(Reference, 'delete', function (mode, ...args) {
  requireArgs(args, 1)
  return this._wire().delete(mode, encode(args[0]))
})

defineSpellings(Reference, 'apply', function (mode, ...args) {
  const [receiver, callArgs = [], options] = args
  if (!Array.isArray(callArgs)) throw new TypeError('`undefined` requires parameter 2 to be an array')
  requireOptions(options, 3)
  const wire = this._wire()
  const [transfer, promise] = transferMode(options?.result)
  const timeout = timeoutOf(options)
  const encoded = callArgs.map((value) => encode(value, options?.arguments))
  return wire.apply(mode, encode(receiver), encoded, timeout, transfer, promise)
})

defineSpellings(Reference, 'copy', function (mode) {
  return this._wire().copy(mode)
}, { ignored: false })

Reference.prototype.applySyncPromise = function () {
  throw new Error('This function may not be called from the default thread')
}

module.exports = { Reference, DerefMarker }
