'use strict'
// Script: code compiled once, runnable many times in any context of its isolate.
const { hide } = require('./internal')
const { defineSpellings, promised, requireArgs } = require('./runner')
const { transferMode, timeoutOf, rejectingError } = require('./transfer')
const { track, untrack } = require('./handles')
const { Context } = require('./context')

class Script {
  /** `compiled`: what the compile reports (`cachedData`, `cachedDataRejected`), as own properties. */
  constructor(isolate, id, compiled) {
    hide(this, '_isolate', isolate)
    hide(this, '_id', id)
    hide(this, '_released', false)
    hide(this, '_token', track(this, isolate._native, 'script', id))
    // (Left open to new properties: isolated-vm's scripts are, since it adds these afterwards.)
    if (compiled !== undefined) Object.assign(this, compiled)
  }

  release() {
    if (this._released) return
    this._released = true
    untrack(this._token)
    if (!this._isolate.isDisposed) this._isolate._native.releaseScript(this._id)
  }
}

defineSpellings(Script, 'run', function (mode, ...args) {
  requireArgs(args, 1)
  const [context, options] = args
  if (!(context instanceof Context)) throw new TypeError('`undefined` requires parameter 1 to be something else')
  if (this._released) throw rejectingError(Error, 'Script has been released')
  context._check()
  if (context._isolate !== this._isolate) throw rejectingError(Error, 'Invalid context')
  const [transfer, promise] = transferMode(options)
  const timeout = timeoutOf(options)
  const result = this._isolate._native.runScript(mode, this._id, context._id, timeout, transfer, promise)
  if (options?.release) this.release()
  return promised(mode, promise, result)
})

module.exports = { Script }
