'use strict'
// ExternalCopy: a structured clone held outside every heap, as immutable bytes in V8's format.
const { hide } = require('./internal')
const native = require('./binding')
const { requireArgs, requireOptions } = require('./runner')
const { kWire, cloneBytes } = require('./transfer')

class ExternalCopy {
  constructor(value, options) {
    if (arguments.length < 1) requireArgs(arguments, 1)
    if (options !== undefined) requireOptions(options, 2)
    const transferList = options?.transferList
    if (transferList !== undefined && !Array.isArray(transferList)) {
      throw new TypeError('`transferList` must be an array')
    }
    hide(this, kWire, native.wireExternalCopyOf(cloneBytes(value)))
    this._track()
    // Transferred buffers are detached from the sender, as V8's transfer does.
    if (transferList !== undefined || options?.transferOut) {
      const detach = [...(transferList ?? []), ...(options.transferOut && value instanceof ArrayBuffer ? [value] : [])]
      for (const buffer of detach) {
        if (!(buffer instanceof ArrayBuffer)) throw new TypeError('`transferList` may only contain ArrayBuffers')
        structuredClone(buffer, { transfer: [buffer] })
      }
    }
  }

  static fromWire(wire) {
    const copy = Object.create(ExternalCopy.prototype)
    hide(copy, kWire, wire)
    copy._track()
    return copy
  }

  static get totalExternalSize() {
    return native.totalExternalSize()
  }

  _track() {}

  _wire() {
    const wire = this[kWire]
    if (wire.released) throw new Error('Copy has been released')
    return wire
  }

  copy(options) {
    requireOptions(options, 1)
    const value = this._wire().materialize()
    if (options?.release) this.release()
    return value
  }

  copyInto(options) {
    requireOptions(options, 1)
    // The marker is the native wire itself, so that it is recognised wherever it is returned.
    const marker = this._wire().copyInto(!!options?.release)
    if (options?.release) this.release()
    return marker
  }

  release() {
    this[kWire].release()
  }
}

module.exports = { ExternalCopy }
