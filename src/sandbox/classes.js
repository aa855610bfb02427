// The API classes as code in an isolate sees them (Reference, ExternalCopy, Callback and the
// markers of derefInto()/copyInto()). Installed in a context the first time it needs one (most
// contexts never see a Reference, and every isolate would otherwise carry this code). Instances
// are native objects made by the engine with these prototypes; every method calls
// `native.op(this, name, spelling, ...args)`.
(function (native) {
  'use strict'
  const defineProperty = Object.defineProperty
  const op = native.op
  const make = native.make
  const SYNC = 0
  const ASYNC = 1
  const IGNORED = 2
  const SYNC_PROMISE = 3
  const spell = (Class, name, spellings) => {
    const p = Class.prototype
    if (spellings.includes('async')) p[name] = function (...args) { return op(this, name, ASYNC, ...args) }
    if (spellings.includes('sync')) p[name + 'Sync'] = function (...args) { return op(this, name, SYNC, ...args) }
    if (spellings.includes('ignored')) p[name + 'Ignored'] = function (...args) { op(this, name, IGNORED, ...args) }
  }

  class Reference {
    constructor(value, options) {
      if (arguments.length < 1) throw new TypeError('`Reference` requires at least 1 parameter')
      return make('reference', value, options)
    }
    get typeof() { return op(this, 'typeof', SYNC) }
    deref(options) { return op(this, 'deref', SYNC, options) }
    derefInto(options) { return op(this, 'derefInto', SYNC, options) }
    release() { op(this, 'release', SYNC) }
    applySyncPromise(...args) { return op(this, 'apply', SYNC_PROMISE, ...args) }
  }
  spell(Reference, 'get', ['async', 'sync'])
  spell(Reference, 'set', ['async', 'sync', 'ignored'])
  spell(Reference, 'delete', ['async', 'sync', 'ignored'])
  spell(Reference, 'apply', ['async', 'sync', 'ignored'])
  spell(Reference, 'copy', ['async', 'sync'])

  class ExternalCopy {
    constructor(value, options) {
      if (arguments.length < 1) throw new TypeError('`ExternalCopy` requires at least 1 parameter')
      return make('externalCopy', value, options)
    }
    static get totalExternalSize() { return native.totalExternalSize() }
    copy(options) { return op(this, 'copy', SYNC, options) }
    copyInto(options) { return op(this, 'copyInto', SYNC, options) }
    release() { op(this, 'release', SYNC) }
  }

  class Callback {
    constructor(fn, options) { return make('callback', fn, options) }
  }

  class DerefMarker {}
  class CopyMarker {}

  for (const Class of [Reference, ExternalCopy, Callback]) {
    defineProperty(Class.prototype, Symbol.toStringTag, { value: Class.name, configurable: true })
  }
  // Frozen, as isolated-vm's are: code in the isolate cannot swap the methods of every handle.
  for (const Class of [Reference, ExternalCopy, Callback, DerefMarker, CopyMarker]) Object.freeze(Class.prototype)
  return {
    Reference: Reference.prototype,
    ExternalCopy: ExternalCopy.prototype,
    Callback: Callback.prototype,
    DerefMarker: DerefMarker.prototype,
    CopyMarker: CopyMarker.prototype,
    classes: { Reference, ExternalCopy, Callback },
  }
})
