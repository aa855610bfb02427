'use strict'
// Context: one realm (global object and builtins) inside an isolate.
const { hide, closeShape } = require('./internal')
const { defineSpellings, promised, requireString, requireArgs, requireOptions } = require('./runner')
const { kWire, transferMode, timeoutOf, originOf, encode, rejectingError } = require('./transfer')
const { track, untrack } = require('./handles')

class Context {
  constructor(isolate, id) {
    hide(this, '_isolate', isolate)
    hide(this, '_id', id)
    hide(this, '_released', false)
    hide(this, '_global', undefined)
    hide(this, '_token', track(this, isolate._native, 'context', id))
    closeShape(this)
  }

  _check() {
    if (this._released) throw rejectingError(Error, 'Context is released')
  }

  get global() {
    // (isolated-vm's is gone with the context.)
    if (this._released) return undefined
    if (this._global === undefined) this._global = this._isolate._native.global(this._id)
    return this._global
  }

  release() {
    if (this._released) return
    this._released = true
    untrack(this._token)
    // The global's Reference goes with the context, as in isolated-vm (References to its other
    // objects stay usable); held on, it would keep the whole context alive until garbage
    // collection of the host gets to it (~66 KiB a context).
    if (this._global !== undefined && !this._global[kWire].released) this._global.release()
    this._global = undefined
    if (!this._isolate.isDisposed) this._isolate._native.releaseContext(this._id)
  }
}

defineSpellings(Context, 'eval', function (mode, ...args) {
  requireArgs(args, 1)
  const [code, options] = args
  requireString(code, 1)
  requireOptions(options, 2)
  this._check()
  const [transfer, promise] = transferMode(options)
  const timeout = timeoutOf(options)
  const [filename, lineOffset, columnOffset] = originOf(options)
  return promised(mode, promise, this._isolate._native.eval(mode, this._id, code, filename, lineOffset, columnOffset, timeout, transfer, promise))
})

defineSpellings(Context, 'evalClosure', function (mode, ...args) {
  requireArgs(args, 1)
  // (Indexed, not destructured: array destructuring allocates an iterator on every call.)
  const code = args[0]
  const closureArgs = args[1] === undefined ? [] : args[1]
  const options = args[2]
  requireString(code, 1)
  if (!Array.isArray(closureArgs)) throw new TypeError('`undefined` requires parameter 2 to be an array')
  requireOptions(options, 3)
  this._check()
  const [transfer, promise] = transferMode(options?.result)
  const timeout = timeoutOf(options)
  const [filename] = originOf(options)
  const encoded = closureArgs.map((value) => encode(value, options?.arguments))
  return promised(mode, promise, this._isolate._native.evalClosure(mode, this._id, code, filename, encoded, timeout, transfer, promise))
})

module.exports = { Context }
