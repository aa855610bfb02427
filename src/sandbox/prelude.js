// Installed once in every new context, before any user code. Gives errors V8's stack shape:
// `Name: message`, then one `    at fn (file:line:col)` line per frame.
//
// QuickJS records the frames when an error is made (natively, with no JS running, which
// matters: JS run while an error is being built can swallow an interrupt), already with V8's
// frame names and positions (vendor/rquickjs-sys/PATCHES.md). The header is added
// when `stack` is first read, from the error's name and message at that time, as V8 does, and
// the result then stays as an own property. A function assigned to `Error.prepareStackTrace`
// is honoured by QuickJS itself, and its result is returned untouched.
(function (proto, loadJsonErrors) {
  'use strict'
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'stack')
  const rawGet = descriptor.get
  const rawSet = descriptor.set
  const errorToString = proto.toString
  const apply = Reflect.apply
  const defineProperty = Object.defineProperty
  const startsWith = String.prototype.startsWith

  const PRELUDE_FILE = '<isolated-quickjs prelude>'
  const frame = (line) => {
    // QuickJS writes `    at name (location)`; V8 writes top-level and anonymous code bare.
    const open = line.indexOf(' (', 7)
    if (open < 0 || line[line.length - 1] !== ')') return line
    const name = line.slice(7, open)
    const where = line.slice(open + 2, -1)
    if (where === 'native') return `    at ${name} (<anonymous>)`
    if (name === '<eval>' || name === '<anonymous>') return `    at ${where}`
    // An awaiting caller without a name (e.g. an async arrow): V8 writes `at async file:line:col`.
    if (name === 'async <anonymous>' || name === 'async <eval>') return `    at async ${where}`
    return line
  }

  function format(error, frames) {
    let header
    try {
      header = apply(errorToString, error, [])
    } catch {
      header = 'Error'
    }
    if (frames === '') return header
    const lines = frames.split('\n')
    let text = header
    for (let i = 0; i < lines.length; i++) {
      // Frames of this prelude (wrappers of builtins) are not the user's business.
      if (lines[i] !== '' && !lines[i].includes(PRELUDE_FILE)) text += '\n' + frame(lines[i])
    }
    return text
  }

  /** Replaces a builtin method with `method`, kept as builtins keep theirs (writable, configurable,
   *  not enumerable); `method` is a shorthand method, so it has the builtin's name and length. */
  const replaceMethod = (object, method) =>
    defineProperty(object, method.name, { configurable: true, writable: true, enumerable: false, value: method })

  defineProperty(proto, 'stack', {
    configurable: true,
    enumerable: false,
    get() {
      const raw = apply(rawGet, this, [])
      // Only QuickJS's own frame text is reshaped; a prepareStackTrace result passes as is.
      if (typeof raw !== 'string' || (raw !== '' && !raw.startsWith('    at '))) return raw
      const text = format(this, raw)
      defineProperty(this, 'stack', { value: text, writable: true, configurable: true, enumerable: false })
      return text
    },
    set(value) {
      apply(rawSet, this, [value])
    },
  })

  // Error.captureStackTrace(object): QuickJS leaves the bare frames on `object.stack`; V8 puts
  // the header first (`Error`, or the object's `name: message`) and writes frames in its shapes,
  // as for errors.
  const captureStackTrace = Error.captureStackTrace
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor
  replaceMethod(
    Error,
    {
      captureStackTrace(object, constructorOpt) {
        const result = apply(captureStackTrace, Error, arguments)
        const own = object !== null && typeof object === 'object' ? getOwnPropertyDescriptor(object, 'stack') : undefined
        if (own !== undefined && typeof own.value === 'string' && (own.value === '' || apply(startsWith, own.value, ['    at ']))) {
          own.value = format(object, own.value)
          defineProperty(object, 'stack', own)
        }
        return result
      },
    }.captureStackTrace,
  )

  // JSON.parse and JSON.stringify failures get V8's message (Node 20's V8, as in isolated-vm 5):
  // QuickJS-ng reports the same failures in its own words. The scanner that finds what V8 names
  // (json_errors.js) is loaded into a context at its first failure: carried by every context, it
  // cost 20 µs of each one's creation. It gets the builtins it uses from here, taken before any
  // user code ran.
  const jsonParse = JSON.parse
  const stringSlice = String.prototype.slice
  const charCodeAt = String.prototype.charCodeAt
  const jsonStringify = JSON.stringify
  let jsonErrors
  const loadedJsonErrors = () =>
    (jsonErrors ??= loadJsonErrors()?.(apply, stringSlice, charCodeAt, getOwnPropertyDescriptor, Object.getPrototypeOf, Array.isArray, Object.keys))

  replaceMethod(
    JSON,
    {
      parse(text, reviver) {
        try {
          return apply(jsonParse, JSON, arguments)
        } catch (error) {
          if (error instanceof SyntaxError && typeof error.message === 'string') {
            // (An object's text comes from its toString, user code: it is not asked twice.)
            const message = typeof text === 'object' && text !== null ? undefined : loadedJsonErrors()?.parse(`${text}`)
            error.message = message ?? error.message.replace(/ \(line \d+ column \d+\)$/, '')
          }
          throw error
        }
      },
    }.parse,
  )

  replaceMethod(
    JSON,
    {
      stringify(value, replacer, space) {
        try {
          return apply(jsonStringify, JSON, arguments)
        } catch (error) {
          if (error instanceof TypeError && error.message === 'circular reference') {
            let message
            try {
              message = loadedJsonErrors()?.circular(value)
            } catch {}
            error.message = message ?? 'Converting circular structure to JSON'
          } else if (error instanceof TypeError && error.message === 'BigInt are forbidden in JSON.stringify') {
            error.message = 'Do not know how to serialize a BigInt'
          }
          throw error
        }
      },
    }.stringify,
  )
})
