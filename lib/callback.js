'use strict'
// Callback: a host function that code in an isolate calls like a plain function.
const { hide, closeShape } = require('./internal')
const native = require('./binding')
const { kWire } = require('./transfer')

class Callback {
  constructor(fn, options) {
    if (typeof fn !== 'function') throw new TypeError('`Callback` requires parameter 1 to be a function')
    const mode = options?.async ? 1 : options?.ignored ? 2 : 0
    hide(this, kWire, native.wireCallback(fn, mode))
    closeShape(this)
  }
}

module.exports = { Callback }
