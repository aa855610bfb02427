'use strict'
// Our objects keep their internal state in non-enumerable properties, so that they look like
// isolated-vm's (which have no own enumerable keys) to Object.keys, JSON.stringify and the
// snapshot printers of test runners (vitest's inline snapshots print `Reference {}` either way).

/** Defines `key` on `object` as a writable, non-enumerable property holding `value`. */
function hide(object, key, value) {
  Object.defineProperty(object, key, { value, writable: true, configurable: true, enumerable: false })
}

/**
 * Closes `object` to new properties once its state is in place: isolated-vm's objects take none
 * (its instances are not extensible, and refuse a new prototype).
 */
function closeShape(object) {
  Object.preventExtensions(object)
}

module.exports = { hide, closeShape }
