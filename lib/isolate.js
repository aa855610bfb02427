'use strict'
// Isolate: a QuickJS runtime with its own heap, on its own thread when it runs asynchronously.
const { hide, closeShape } = require('./internal')
const native = require('./binding')
const { defineSpellings, afterward, requireString, requireOptions, requireArgs } = require('./runner')
const { Context } = require('./context')
const { Script } = require('./script')
const { originOf, rejectingError } = require('./transfer')
const { ExternalCopy } = require('./external_copy')
const { Module, kCompiled, checkModuleOptions } = require('./module')

const MB = 1024 * 1024

function notSupported(what) {
  return new Error(`${what} is not supported by isolated-quickjs (QuickJS has no equivalent)`)
}

class Isolate {
  constructor(options) {
    if (options !== undefined && options !== null && typeof options !== 'object') {
      throw new TypeError('`Isolate` requires parameter 1 to be an object')
    }
    const { memoryLimit = 128, inspector, snapshot, onCatastrophicError } = options ?? {}
    if (typeof memoryLimit !== 'number') throw new TypeError('`memoryLimit` must be a number')
    if (memoryLimit < 8) throw new Error('`memoryLimit` must be at least 8')
    if (inspector) throw notSupported('The inspector')
    if (snapshot !== undefined) {
      if (snapshot === null || typeof snapshot !== 'object') throw new TypeError('`snapshot` must be an object')
      if (!(snapshot instanceof ExternalCopy)) throw new TypeError('`snapshot` must be an ExternalCopy to ArrayBuffer')
      throw notSupported('Starting from a snapshot')
    }
    if (onCatastrophicError !== undefined && typeof onCatastrophicError !== 'function') {
      throw new TypeError('`onCatastrophicError` must be a function')
    }
    hide(this, '_native', new native.NativeIsolate(memoryLimit * MB))
    closeShape(this)
  }

  get isDisposed() {
    return this._native.isDisposed
  }

  dispose() {
    this._native.dispose()
  }

  // V8 machinery QuickJS has no equivalent for: an explicit error rather than a missing method.
  createInspectorSession() {
    throw notSupported('The inspector')
  }

  startCpuProfiler() {
    throw notSupported('The CPU profiler')
  }

  stopCpuProfiler() {
    return Promise.reject(notSupported('The CPU profiler'))
  }

  // (These three are gone with the isolate, as in isolated-vm.)
  get referenceCount() {
    this._checkAlive()
    return this._native.referenceCount
  }

  /** CPU time of the threads while they ran this isolate, in nanoseconds. */
  get cpuTime() {
    this._checkAlive()
    return BigInt(Math.round(this._native.times()[0]))
  }

  /** Elapsed time while the isolate ran, in nanoseconds. */
  get wallTime() {
    this._checkAlive()
    return BigInt(Math.round(this._native.times()[1]))
  }

  _checkAlive() {
    if (this.isDisposed) throw new Error('Isolate is disposed')
  }

  _heapStatistics() {
    // (isolated-vm's sync spelling says "Isolated", its async one "Isolate": see below.)
    if (this.isDisposed) throw new Error('Isolated is disposed')
    const [used, limit] = this._native.heap()
    // The keys of Node's v8.getHeapStatistics(); QuickJS has one malloc'd heap, so the size
    // figures are all that heap (counted by our allocator), and the V8-only ones are 0.
    return {
      total_heap_size: used,
      total_heap_size_executable: 0,
      total_physical_size: used,
      total_available_size: Math.max(0, limit - used),
      used_heap_size: used,
      heap_size_limit: limit,
      malloced_memory: used,
      peak_malloced_memory: used,
      does_zap_garbage: 0,
      number_of_native_contexts: 0,
      number_of_detached_contexts: 0,
      total_global_handles_size: 0,
      used_global_handles_size: 0,
      external_memory: 0,
      externally_allocated_size: 0,
    }
  }

  getHeapStatisticsSync() {
    return this._heapStatistics()
  }

  getHeapStatistics() {
    if (this.isDisposed) return Promise.reject(new Error('Isolate is disposed'))
    return Promise.resolve(this._heapStatistics())
  }
}

defineSpellings(
  Isolate,
  'createContext',
  function (mode, options) {
    requireOptions(options, 1)
    if (options?.inspector) throw notSupported('The inspector')
    const id = this._native.createContext(mode)
    return mode === 2 ? undefined : afterward(id, (id) => new Context(this, id))
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
    const [filename, lineOffset, columnOffset] = originOf(options)
    const plan = cachedDataPlan(options, code, filename, lineOffset, columnOffset, false)
    const made = (id) => new Script(this, id, plan.results(() => this._native.scriptCachedData(id)))
    return afterward(this._native.compileScript(mode, code, filename, lineOffset, columnOffset, plan.produce), made)
  },
  { ignored: false },
)

defineSpellings(
  Isolate,
  'compileModule',
  function (mode, ...args) {
    requireArgs(args, 1)
    const [code, options] = args
    requireString(code, 1)
    requireOptions(options, 2)
    checkModuleOptions(options)
    const [filename, lineOffset, columnOffset] = originOf(options)
    const plan = cachedDataPlan(options, code, filename, lineOffset, columnOffset, true)
    const compiled = this._native.compileModule(mode, code, filename, lineOffset, columnOffset, plan.produce)
    return afterward(compiled, (compiled) => {
      const module = new Module(kCompiled, this, compiled)
      return Object.assign(module, plan.results(() => this._native.moduleCachedData(module._id)))
    })
  },
  { ignored: false },
)

/**
 * What a compile does with the `cachedData` and `produceCachedData` options, as isolated-vm does:
 * given data is taken if genuine (`cachedDataRejected` reports it), and fresh data is produced on
 * request when none was given or the given one was rejected. `results(produced)` are the
 * compile's own properties; `produced()` reads the data the native side made, when asked for.
 */
function cachedDataPlan(options, code, filename, lineOffset, columnOffset, module) {
  const cached = cachedDataOf(options)
  const rejected = cached === undefined ? undefined : !native.acceptCachedData(code, filename, lineOffset, columnOffset, cached, module)
  const produce = !!options?.produceCachedData && rejected !== false
  const results = (produced) => {
    const compiled = {}
    if (rejected !== undefined) compiled.cachedDataRejected = rejected
    const data = produce ? produced() : undefined
    if (data) compiled.cachedData = new ExternalCopy(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
    return compiled
  }
  return { produce, results }
}

/**
 * The bytes of the `cachedData` option (an ExternalCopy of an ArrayBuffer), checked as
 * isolated-vm checks it. Only data this process produced is ever read back (src/engine/code_cache.rs).
 */
function cachedDataOf(options) {
  const cached = options?.cachedData
  if (cached === undefined) return undefined
  if (cached === null || typeof cached !== 'object') throw rejectingError(TypeError, '`cachedData` must be an object')
  const buffer = cached instanceof ExternalCopy ? cached.copy() : undefined
  if (!(buffer instanceof ArrayBuffer)) throw rejectingError(TypeError, '`cachedData` must be an ExternalCopy to ArrayBuffer')
  return Buffer.from(buffer)
}

module.exports = { Isolate, notSupported }
