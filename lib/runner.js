'use strict'
// The spellings of each operation. An operation is written once, as a function of the mode
// (SYNC, ASYNC, IGNORED); `defineSpellings` derives `x()`, `xSync()` and `xIgnored()` from it.
// Synchronous failures that come from inside an isolate get V8's boundary marker and the host's
// own frames appended to their stack, as isolated-vm does.
const { kFromIsolate, kRejects } = require('./transfer')

const SYNC = 0
const ASYNC = 1
const IGNORED = 2

/** The host frames of the current call of `spelling` (in `.stack`). */
function callSite(spelling) {
  const holder = {}
  Error.captureStackTrace(holder, spelling)
  return holder
}

/** Appends the boundary marker and the host frames captured in `holder` to an isolate error. */
function appendHostFrames(error, holder) {
  if (error === null || typeof error !== 'object' || !error[kFromIsolate]) return error
  delete error[kFromIsolate]
  const hostFrames = holder.stack.slice(holder.stack.indexOf('\n') + 1)
  error.stack = `${error.stack}\n    at (<isolated-vm boundary>)${hostFrames ? '\n' + hostFrames : ''}`
  return error
}

function defineSpellings(Class, name, operation, { sync = true, async = true, ignored = true } = {}) {
  if (async) {
    const spelling = function (...args) {
      let result
      try {
        result = operation.call(this, ASYNC, ...args)
      } catch (error) {
        // Bad arguments throw at once; bad options, and work that failed at once on this thread,
        // reject, as in isolated-vm.
        if (error?.[kRejects]) {
          delete error[kRejects]
          return Promise.reject(appendHostFrames(error, callSite(spelling)))
        }
        throw error
      }
      // Work done at once on this thread (src/binding/runner.rs `run_no_user_code`). It settles
      // one microtask turn later, as the `catch` below makes the others do, so results keep the
      // order in which their work finished.
      if (!(result instanceof Promise)) return Promise.resolve(result).then()
      // The host stack is captured now: by the time the isolate answers, the call site is gone.
      const holder = callSite(spelling)
      return result.catch((error) => {
        throw appendHostFrames(error, holder)
      })
    }
    Class.prototype[name] = spelling
  }
  if (sync) {
    const syncName = `${name}Sync`
    const spelling = {
      [syncName](...args) {
        try {
          return operation.call(this, SYNC, ...args)
        } catch (error) {
          if (error?.[kRejects]) delete error[kRejects]
          throw appendHostFrames(error, callSite(spelling))
        }
      },
    }[syncName]
    Class.prototype[syncName] = spelling
  }
  if (ignored) {
    Class.prototype[`${name}Ignored`] = function (...args) {
      operation.call(this, IGNORED, ...args)
    }
  }
}

/**
 * `then(result)` for a native answer that is a promise (async work handed to the isolate's
 * thread) or the value itself (sync spellings, and async work done at once on this thread).
 */
function afterward(result, then) {
  return result instanceof Promise ? result.then(then) : then(result)
}

/** isolated-vm's argument errors: `` `undefined` requires parameter 1 to be a string `` etc. */
function requireString(value, index) {
  if (typeof value !== 'string') throw new TypeError(`\`undefined\` requires parameter ${index} to be a string`)
}

function requireArgs(args, count) {
  if (args.length < count) throw new TypeError(`\`undefined\` requires at least ${count} parameter${count > 1 ? 's' : ''}`)
}

function requireOptions(value, index) {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new TypeError(`\`undefined\` requires parameter ${index} to be an object`)
  }
}

/**
 * The result of a synchronous call made with `promise: true`: a Promise, as isolated-vm returns
 * one — of the value, or the one the native layer made for a promise that settles later.
 */
function promised(mode, promise, result) {
  return mode === SYNC && promise && !(result instanceof Promise) ? Promise.resolve(result) : result
}

module.exports = { SYNC, ASYNC, IGNORED, defineSpellings, afterward, promised, requireString, requireArgs, requireOptions }
