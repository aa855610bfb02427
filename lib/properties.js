'use strict'
// isolated-vm's rules for `Reference` get/set/delete on values that live in the host (the same
// rules for isolate values: src/engine/state.rs `property_target`): a key is a string or a
// uint32; the target is an object (not a function), with no proxy on its prototype chain; `get`
// reads own properties only (unless `unsafeInherit`) and refuses accessors unless `accessors` is
// set; `set` deletes the key and defines a plain data property, so no setter ever runs.
const { types } = require('node:util')
const { rejectingError } = require('./transfer')

const isProxy = types?.isProxy ?? (() => false)

/** Async spellings report a bad key as a rejection, as isolated-vm does (kRejects). */
function checkKey(key) {
  if (typeof key === 'string' || (Number.isInteger(key) && key >= 0 && key <= 0xffffffff)) return
  throw rejectingError(TypeError, 'Invalid `key`')
}

function checkTarget(target) {
  if (target === null || typeof target !== 'object') throw new TypeError('Reference is not an object')
  // The proxy itself is checked before its prototype is asked for: that would run its trap.
  for (let object = target; object !== null; object = Object.getPrototypeOf(object)) {
    if (isProxy(object)) throw new TypeError('Object is or has proxy')
  }
}

/** V8 keeps an array's `length` as an accessor of its own (isolated-vm calls it a getter). */
function isAccessor(object, key, descriptor) {
  return descriptor.get !== undefined || descriptor.set !== undefined || (key === 'length' && Array.isArray(object))
}

function getProperty(target, key, inherit, accessors) {
  checkKey(key)
  checkTarget(target)
  for (let object = target; object !== null; object = inherit ? Object.getPrototypeOf(object) : null) {
    const descriptor = Object.getOwnPropertyDescriptor(object, key)
    if (descriptor === undefined) continue
    if (!accessors && isAccessor(object, key, descriptor)) throw new TypeError('Property is getter')
    return Reflect.get(object, key, target)
  }
  return undefined
}

function setProperty(target, key, value) {
  checkKey(key)
  checkTarget(target)
  Reflect.deleteProperty(target, key)
  if (!Reflect.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })) {
    throw new TypeError('Set failed')
  }
}

function deleteProperty(target, key) {
  checkKey(key)
  checkTarget(target)
  if (!Reflect.deleteProperty(target, key)) throw new TypeError('Delete failed')
}

module.exports = { checkKey, getProperty, setProperty, deleteProperty }
