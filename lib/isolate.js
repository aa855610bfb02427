'use strict'
// Isolate: a QuickJS runtime with its own heap, on its own thread when it runs asynchronously.
const native = require('./binding')
const { defineSpellings, requireString, requireOptions, requireArgs } = require('./runner')
const { Context } = require('./context')
const { Script } = require('./script')

const MB = 1024 * 1024

function notSupported(what) {
  return new Error(`${what} is not supported by isolated-quickjs (QuickJS has no equivalent)`)
}

class Isolate {
  constructor(options) {
    requireOptions(options, 1)
    const { memoryLimit = 128, inspector, snapshot, onCatastrophicError } = options ?? {}
    if (typeof memoryLimit !== 'number') throw new TypeError('`memoryLimit` must be a number')
    if (memoryLimit < 8) throw new Error('`memoryLimit` must be at least 8')
    if (inspector) throw notSupported('The inspector')
    if (snapshot !== undefined) throw notSupported('Starting from a snapshot')
    if (onCatastrophicError !== undefined && typeof onCatastrophicError !== 'function') {
      throw new TypeError('`onCatastrophicError` must be a function')
    }
    this._native = new native.NativeIsolate(memoryLimit * MB)
  }

  get isDisposed() {
    return this._native.isDisposed
  }

  dispose() {
    this._native.dispose()
  }

  get referenceCount() {
    return this._native.referenceCount
  }
}

defineSpellings(
  Isolate,
  'createContext',
  function (mode, options) {
    requireOptions(options, 1)
    if (options?.inspector) throw notSupported('The inspector')
    const id = this._native.createContext(mode)
    if (mode === 1) return id.then((id) => new Context(this, id))
    return mode === 0 ? new Context(this, id) : undefined
  },
  { ignored: false },
)

defineSpellings(
  Isolate,
  'compileScript',
  function (mode, ...args) {
    requireArgs(args, 1)
    const [code, options] = args
    requireString(code, 1)
    requireOptions(options, 2)
    const { filename = '<isolated-vm>', lineOffset = 0, columnOffset = 0 } = options ?? {}
    const id = this._native.compileScript(mode, code, String(filename), lineOffset | 0, columnOffset | 0)
    if (mode === 1) return id.then((id) => new Script(this, id))
    return new Script(this, id)
  },
  { ignored: false },
)

module.exports = { Isolate, notSupported }
