// Installed once in every new context, before any user code. Gives errors V8's stack shape:
// `Name: message`, then one `    at fn (file:line:col)` line per frame.
//
// QuickJS records the frames when an error is made (natively, with no JS running, which
// matters: JS run while an error is being built can swallow an interrupt), already with V8's
// frame names and positions (vendor/rquickjs-sys/PATCHES.md). The header is added
// when `stack` is first read, from the error's name and message at that time, as V8 does, and
// the result then stays as an own property. A function assigned to `Error.prepareStackTrace`
// is honoured by QuickJS itself, and its result is returned untouched.
(function (proto) {
  'use strict'
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'stack')
  const rawGet = descriptor.get
  const rawSet = descriptor.set
  const errorToString = proto.toString
  const apply = Reflect.apply
  const defineProperty = Object.defineProperty

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

  // JSON.parse failures get V8's message (Node 20's V8, as in isolated-vm 5): QuickJS-ng
  // reports the same failures in its own words. The text is scanned again only after a failure,
  // to find what V8 names: the first offending position and what was expected there.
  const jsonParse = JSON.parse
  const stringSlice = String.prototype.slice
  const charCodeAt = String.prototype.charCodeAt
  const CONTEXT = 10

  /** V8's message for JSON text `s` that failed to parse, or undefined if the scan finds none. */
  function v8JsonMessage(s) {
    const n = s.length
    let i = 0
    const code = () => (i < n ? apply(charCodeAt, s, [i]) : -1)
    const at = (what) => `${what} in JSON at position ${i}`
    const quoted = (from, to) => `"${apply(stringSlice, s, [from, to])}"`
    const unexpected = () => {
      if (i >= n) return 'Unexpected end of JSON input'
      if (s === 'undefined' || s === 'NaN' || s === 'Infinity') return `"${s}" is not valid JSON`
      let context
      if (n <= CONTEXT * 2) context = quoted(0, n)
      else if (i < CONTEXT) context = `${quoted(0, i + CONTEXT)}...`
      else if (i >= n - CONTEXT) context = `...${quoted(i - CONTEXT, n)}`
      else context = `...${quoted(i - CONTEXT, i + CONTEXT)}...`
      return `Unexpected token '${s[i]}', ${context} is not valid JSON`
    }
    const space = () => {
      for (let c = code(); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = code()) i++
    }
    const digits = () => {
      const start = i
      for (let c = code(); c >= 0x30 && c <= 0x39; c = code()) i++
      return i > start
    }
    const isHex = (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    // Each returns a message on failure, undefined when its part is well formed.
    const string = () => {
      i++ // the opening quote
      for (;;) {
        const c = code()
        if (c < 0) return at('Unterminated string')
        if (c === 0x22) return void i++
        if (c < 0x20) return at('Bad control character in string literal')
        if (c !== 0x5c) {
          i++
          continue
        }
        i++
        const e = code()
        if (e === 0x75) {
          i++
          for (let k = 0; k < 4; k++, i++) if (!isHex(code())) return code() < 0 ? at('Unterminated string') : at('Bad Unicode escape')
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          i++
        } else {
          return e < 0 ? at('Unterminated string') : at('Bad escaped character')
        }
      }
    }
    const number = () => {
      if (code() === 0x2d) {
        i++
        if (!(code() >= 0x30 && code() <= 0x39)) return at('No number after minus sign')
      }
      if (code() === 0x30) {
        i++
        if (code() >= 0x30 && code() <= 0x39) return at('Unexpected number')
      } else digits()
      if (code() === 0x2e) {
        i++
        if (!digits()) return at('Unterminated fractional number')
      }
      if (code() === 0x65 || code() === 0x45) {
        i++
        if (code() === 0x2b || code() === 0x2d) i++
        if (!digits()) return at('Exponent part is missing a number')
      }
    }
    const literal = (word) => {
      for (let k = 0; k < word.length; k++, i++) if (s[i] !== word[k]) return unexpected()
    }
    const value = () => {
      space()
      const c = code()
      if (c === 0x7b) return object()
      if (c === 0x5b) return array()
      if (c === 0x22) return string()
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return number()
      if (c === 0x74) return literal('true')
      if (c === 0x66) return literal('false')
      if (c === 0x6e) return literal('null')
      return unexpected()
    }
    const array = () => {
      i++
      space()
      if (code() === 0x5d) return void i++
      for (;;) {
        const failed = value()
        if (failed) return failed
        space()
        if (code() === 0x2c) i++
        else if (code() === 0x5d) return void i++
        else return at("Expected ',' or ']' after array element")
      }
    }
    const object = () => {
      i++
      space()
      if (code() === 0x7d) return void i++
      // V8 names what it expected for the first property and after a comma; later properties
      // fail as unexpected tokens.
      if (code() !== 0x22) return at("Expected property name or '}'")
      for (let first = true; ; first = false) {
        const failed = string()
        if (failed) return failed
        space()
        if (code() !== 0x3a) return first ? at("Expected ':' after property name") : unexpected()
        i++
        const bad = value()
        if (bad) return bad
        space()
        if (code() === 0x7d) return void i++
        if (code() !== 0x2c) return at("Expected ',' or '}' after property value")
        i++
        space()
        if (code() !== 0x22) return at('Expected double-quoted property name')
      }
    }
    const failed = value()
    if (failed) return failed
    space()
    if (i < n) return `Unexpected non-whitespace character after JSON at position ${i}`
  }

  defineProperty(JSON, 'parse', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: {
      parse(text, reviver) {
        try {
          return apply(jsonParse, JSON, arguments)
        } catch (error) {
          if (error instanceof SyntaxError && typeof error.message === 'string') {
            // (An object's text comes from its toString, user code: it is not asked twice.)
            const message = typeof text === 'object' && text !== null ? undefined : v8JsonMessage(`${text}`)
            error.message = message ?? error.message.replace(/ \(line \d+ column \d+\)$/, '')
          }
          throw error
        }
      },
    }.parse,
  })
})
