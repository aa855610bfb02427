'use strict'
// ExternalCopy: a structured clone held outside every heap, as immutable bytes in V8's format.
const native = require('./binding')
const { requireArgs, requireOptions } = require('./runner')
const { kWire } = require('./transfer')

let totalExternalSize = 0
const sizes = new FinalizationRegistry((size) => {
  totalExternalSize -= size
})

class ExternalCopy {
  constructor(...args) {
    requireArgs(args, 1)
    const [value, options] = args
    requireOptions(options, 2)
    if (options?.transferList !== undefined || options?.transferOut) {
      throw new TypeError('`transferList` and `transferOut` are not supported yet')
    }
    this[kWire] = native.wireExternalCopy(value)
    this._track()
  }

  static fromWire(wire) {
    const copy = Object.create(ExternalCopy.prototype)
    copy[kWire] = wire
    copy._track()
    return copy
  }

  static get totalExternalSize() {
    return totalExternalSize
  }

  _track() {
    this._size = this[kWire].byteLength
    totalExternalSize += this._size
    this._token = {}
    sizes.register(this, this._size, this._token)
  }

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
    const marker = new CopyMarker(this._wire().copyInto())
    if (options?.release) this.release()
    return marker
  }

  release() {
    const wire = this[kWire]
    if (wire.released) return
    wire.release()
    totalExternalSize -= this._size
    sizes.unregister(this._token)
  }
}

/** What `copyInto()` returns: becomes a fresh copy wherever it lands. */
class CopyMarker {
  constructor(wire) {
    this[kWire] = wire
  }
}

module.exports = { ExternalCopy, CopyMarker }
