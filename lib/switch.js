'use strict'
// The isolated-vm switch: decides, from USE_QUICKJS, whether `isolated-vm` resolves to this package,
// and installs that decision into both module loaders of this process. `register.js` (--require)
// and `register.mjs` (--import) only call `install()`; the ESM resolve hook (`switch_hooks.mjs`)
// follows `plan()` here too, so every rule lives in this one file.
// Coverage: loaded by --require, every require(), import and import() in every thread (Node runs
// preloads in worker threads too); by --import, the same in the main thread only; by a plain
// require/import, whatever is resolved after it runs (not static imports of the same module graph).
const { join } = require('node:path')
const { pathToFileURL } = require('node:url')
const { writeSync } = require('node:fs')

/** The request this switch answers. Subpaths (`isolated-vm/…`) are left alone. */
const SPECIFIER = 'isolated-vm'

/** This package's entry point, which stands in for isolated-vm. */
const ENTRY = join(__dirname, '..', 'index.js')
const ENTRY_URL = pathToFileURL(ENTRY).href

const ACCEPTED = { true: 'quickjs', 1: 'quickjs', false: 'isolated-vm', 0: 'isolated-vm' }

/**
 * What USE_QUICKJS asks for: `quickjs` (always this package), `isolated-vm` (never touch the
 * resolution) or `auto` (isolated-vm when it can be resolved, else this package). `warning` is the
 * line to print when the value is not one of the accepted ones.
 */
function readSetting(value) {
  if (value === undefined || value === '') return { mode: 'auto' }
  if (Object.hasOwn(ACCEPTED, value)) return { mode: ACCEPTED[value] }
  return {
    mode: 'auto',
    warning:
      `isolated-quickjs: ignoring USE_QUICKJS=${JSON.stringify(value)} ` +
      '(accepted values: true, 1, false, 0); treating it as unset',
  }
}

/** The line printed when `auto` falls back to this package. */
const FALLBACK_NOTICE =
  'isolated-quickjs: isolated-vm is not installed; using isolated-quickjs in its place ' +
  '(set USE_QUICKJS=true or USE_QUICKJS=false to choose explicitly)'

/**
 * How a hook answers `isolated-vm` under `mode`: `entry` (this package), `default` (the loader's
 * own answer, errors included) or `default-else-entry` (the loader's answer unless it finds nothing;
 * then this package, with the fallback notice).
 */
function plan(mode) {
  if (mode === 'quickjs') return 'entry'
  if (mode === 'isolated-vm') return 'default'
  return 'default-else-entry'
}

/** Writes one line to stderr at once (also from the loader-hooks thread). */
function printLine(line) {
  writeSync(2, `${line}\n`)
}

/**
 * Prints the fallback notice unless some thread of this process already did. `printed` is an
 * Int32Array over shared memory, so the require hook and the import hook print it once between them.
 */
function noticeFallback(printed) {
  if (Atomics.exchange(printed, 0, 1) === 0) printLine(FALLBACK_NOTICE)
}

/** Node's thread that runs module.register() hooks: a worker without a parent port. */
function onLoaderHooksThread() {
  const { isMainThread, parentPort } = require('node:worker_threads')
  return !isMainThread && parentPort === null
}

/** CommonJS: `require('isolated-vm')` and `require.resolve('isolated-vm')`. */
function hookRequire(mode, printed) {
  const Module = require('node:module')
  const resolveFilename = Module._resolveFilename
  Module._resolveFilename = function resolveFilenameWithSwitch(request, ...rest) {
    if (request !== SPECIFIER) return resolveFilename.call(this, request, ...rest)
    const how = plan(mode)
    if (how === 'default') return resolveFilename.call(this, request, ...rest)
    if (how === 'default-else-entry') {
      try {
        return resolveFilename.call(this, request, ...rest)
      } catch (error) {
        if (error?.code !== 'MODULE_NOT_FOUND') throw error
      }
      noticeFallback(printed)
    }
    return ENTRY
  }
}

/** ES modules: static `import` and `import()`, through module.register() (Node ≥ 18.19 / 20.6). */
function hookImport(mode, printed) {
  const { register } = require('node:module')
  if (typeof register !== 'function') return false
  register(pathToFileURL(join(__dirname, 'switch_hooks.mjs')), { data: { mode, printed } })
  return true
}

const INSTALLED = Symbol.for('isolated-quickjs.switch')

/**
 * Applies USE_QUICKJS to this process, once (a second copy of this package defers to the first).
 * Returns what was decided, for tests and diagnostics.
 */
function install(env = process.env) {
  if (globalThis[INSTALLED]) return globalThis[INSTALLED]
  if (onLoaderHooksThread()) return { mode: 'none', require: false, import: false }
  const { mode, warning } = readSetting(env.USE_QUICKJS)
  if (warning) printLine(warning)
  const printed = new Int32Array(new SharedArrayBuffer(4))
  const state = { mode, require: false, import: false }
  if (mode !== 'isolated-vm') {
    hookRequire(mode, printed)
    state.require = true
    state.import = hookImport(mode, printed)
  }
  globalThis[INSTALLED] = state
  return state
}

module.exports = { SPECIFIER, ENTRY, ENTRY_URL, FALLBACK_NOTICE, readSetting, plan, noticeFallback, install }
