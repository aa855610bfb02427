'use strict'
// Module: an ES module compiled in an isolate (`isolate.compileModule`), instantiated in one
// context with the dependencies the host's resolve callback picks, evaluated once.
const { hide } = require('./internal')
const { defineSpellings, afterward, requireArgs, requireOptions } = require('./runner')
const { rejectingError, timeoutOf } = require('./transfer')
const { Context } = require('./context')
const { track, untrack } = require('./handles')

const kCompiled = Symbol('isolated-quickjs.compiledModule')

class Module {
  constructor(token, isolate, compiled) {
    if (token !== kCompiled) throw new TypeError('Modules are created with isolate.compileModule()')
    const [id, dependencySpecifiers] = readCompiled(compiled)
    hide(this, '_isolate', isolate)
    hide(this, '_id', id)
    hide(this, '_released', false)
    hide(this, '_instantiated', false)
    hide(this, '_token', track(this, isolate._native, 'module', id))
    // A read-only array, as isolated-vm's.
    Object.defineProperty(this, 'dependencySpecifiers', { value: Object.freeze(dependencySpecifiers), enumerable: false })
    // (Left open to new properties: isolated-vm's modules are, since it adds cachedData afterwards.)
  }

  /** A Reference to the module's namespace (once `instantiate` was called on it). */
  get namespace() {
    this._check()
    return this._isolate._native.moduleNamespace(this._id)
  }

  release() {
    if (this._released) return
    this._released = true
    untrack(this._token)
    if (!this._isolate.isDisposed) this._isolate._native.releaseModule(this._id)
  }

  _check() {
    if (this._released) throw new Error('Module has been released')
  }
}

/** The native layer's answer to a compile: `id` then `;length;specifier` for each specifier. */
function readCompiled(compiled) {
  let at = compiled.indexOf(';')
  if (at < 0) return [Number(compiled), []]
  const id = Number(compiled.slice(0, at))
  const specifiers = []
  while (at < compiled.length) {
    const lengthEnd = compiled.indexOf(';', at + 1)
    const length = Number(compiled.slice(at + 1, lengthEnd))
    specifiers.push(compiled.slice(lengthEnd + 1, lengthEnd + 1 + length))
    at = lengthEnd + 1 + length
  }
  return [id, specifiers]
}

/**
 * The links of `root`'s graph: for every module reached that was not instantiated before, each
 * of its specifiers and the Module `resolve` gives for it. Sync: `resolve` must answer at once;
 * async: it may return a promise. Returns [referrers, specifiers, targets] (module ids).
 */
function linksOf(root, resolve, sync) {
  const referrers = []
  const specifiers = []
  const targets = []
  const seen = new Set([root])
  const pending = [root]
  const link = (referrer, specifier, target) => {
    if (!(target instanceof Module) || target._isolate !== root._isolate) {
      throw new TypeError('Resolved dependency was not `Module`')
    }
    target._check()
    referrers.push(referrer._id)
    specifiers.push(specifier)
    targets.push(target._id)
    if (!seen.has(target) && !target._instantiated) {
      seen.add(target)
      pending.push(target)
    }
  }
  const result = () => [referrers, specifiers, targets]
  if (sync) {
    while (pending.length > 0) {
      const module = pending.shift()
      for (const specifier of module.dependencySpecifiers) link(module, specifier, resolve(specifier, module))
    }
    return result()
  }
  return (async () => {
    while (pending.length > 0) {
      const module = pending.shift()
      for (const specifier of module.dependencySpecifiers) link(module, specifier, await resolve(specifier, module))
    }
    return result()
  })()
}

defineSpellings(
  Module,
  'instantiate',
  function (mode, ...args) {
    requireArgs(args, 2)
    const [context, resolve] = args
    if (!(context instanceof Context)) throw new TypeError('`undefined` requires parameter 1 to be something else')
    if (typeof resolve !== 'function') throw new TypeError('`undefined` requires parameter 2 to be a function')
    this._check()
    context._check()
    if (context._isolate !== this._isolate) throw rejectingError(Error, 'Invalid context')
    const native = this._isolate._native
    const finish = ([referrers, specifiers, targets]) =>
      afterward(native.instantiateModule(mode, this._id, context._id, referrers, specifiers, targets), () => {
        hide(this, '_instantiated', true)
      })
    if (this._instantiated) return mode === 1 ? Promise.resolve() : undefined
    if (mode !== 1) return finish(linksOf(this, resolve, true))
    return linksOf(this, resolve, false).then(finish)
  },
  { ignored: false },
)

defineSpellings(
  Module,
  'evaluate',
  function (mode, options) {
    requireOptions(options, 1)
    this._check()
    return this._isolate._native.evaluateModule(mode, this._id, timeoutOf(options))
  },
  { ignored: false },
)

/** `compileModule`'s options: a `meta` callback only works for compiles made inside an isolate. */
function checkModuleOptions(options) {
  if (options?.meta !== undefined) throw rejectingError(Error, '`meta` callback must belong to entered isolate')
}

module.exports = { Module, kCompiled, checkModuleOptions }
