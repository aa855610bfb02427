'use strict'
// isolated-quickjs: isolated-vm's API, served by QuickJS-ng.
const native = require('./lib/binding')
const { helpers } = require('./lib/transfer')

native.init(helpers)

const { Isolate, notSupported } = require('./lib/isolate')
const { Context } = require('./lib/context')
const { Script } = require('./lib/script')
const { Reference } = require('./lib/reference')
const { ExternalCopy } = require('./lib/external_copy')
const { Callback } = require('./lib/callback')
const { Module } = require('./lib/module')

class NativeModule {
  constructor() {
    throw notSupported('NativeModule (loading native addons into an isolate)')
  }
}

/** isolated-vm's `lib`: small helpers that isolated-vm also offers inside isolates. */
const lib = {
  hrtime: (previous) => process.hrtime(previous),
  // V8 private symbols do not exist outside V8; an ordinary unique symbol is the closest thing.
  privateSymbol: (name) => Symbol(name),
}

Isolate.createSnapshot = function () {
  throw notSupported('Isolate.createSnapshot')
}

module.exports = { Isolate, Context, Script, Module, Reference, ExternalCopy, Callback, NativeModule, lib }

// As in isolated-vm, the classes' prototypes, `lib` and the exports are frozen: other code in the
// process cannot swap a method or a class under the sandbox's users.
for (const Class of [Isolate, Context, Script, Module, Reference, ExternalCopy, Callback, NativeModule]) Object.freeze(Class.prototype)
Object.freeze(lib)
Object.freeze(module.exports)
