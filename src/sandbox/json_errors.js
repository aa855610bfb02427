// JSON's errors in V8's words (Node 20's V8, as in isolated-vm 5): loaded into a context by the
// prelude at its first JSON.parse or JSON.stringify failure. For parse, the text is scanned again
// for what V8 names (the first offending position and what was expected there); for a circular
// structure given to stringify, the value is walked again for the cycle V8 describes. The
// builtins come from the prelude, taken before any user code ran.
(function (apply, stringSlice, charCodeAt, getOwnPropertyDescriptor, getPrototypeOf, isArray, objectKeys) {
  'use strict'
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

  // -- JSON.stringify: a circular structure ----------------------------------------------------

  // V8 lists at most two steps of the cycle before `...` and one after.
  const PREFIX = 2
  const POSTFIX = 1

  /** The constructor name V8 gives an object in these messages ('Object' when it finds none). */
  function constructorName(object) {
    const proto = getPrototypeOf(object)
    const own = proto === null ? undefined : getOwnPropertyDescriptor(proto, 'constructor')
    const name = own !== undefined && typeof own.value === 'function' ? getOwnPropertyDescriptor(own.value, 'name') : undefined
    return name !== undefined && typeof name.value === 'string' && name.value !== '' ? name.value : 'Object'
  }

  const step = (key) => (typeof key === 'number' ? `index ${key}` : `property '${key}'`)

  /**
   * V8's message for a value JSON.stringify found circular: the first cycle in the order stringify
   * walks (own enumerable data properties, array elements), from the object where it starts to
   * the property that closes it. Accessors are not read again (stringify already ran them).
   */
  function v8CircularMessage(root) {
    const path = []
    const keys = []
    const describe = (start, closing) => {
      const steps = []
      for (let j = start + 1; j < path.length; j++) steps.push(`    |     ${step(keys[j])} -> object with constructor '${constructorName(path[j])}'`)
      const shown = steps.length > PREFIX + POSTFIX ? [...steps.slice(0, PREFIX), '    |     ...', ...steps.slice(-POSTFIX)] : steps
      return [
        'Converting circular structure to JSON',
        `    --> starting at object with constructor '${constructorName(path[start])}'`,
        ...shown,
        `    --- ${step(closing)} closes the circle`,
      ].join('\n')
    }
    const visit = (value, key) => {
      if (value === null || typeof value !== 'object') return undefined
      const at = path.indexOf(value)
      if (at >= 0) return describe(at, key)
      path.push(value)
      keys.push(key)
      const keysOf = isArray(value) ? null : objectKeys(value)
      const count = keysOf === null ? value.length : keysOf.length
      for (let i = 0; i < count; i++) {
        const k = keysOf === null ? i : keysOf[i]
        const own = getOwnPropertyDescriptor(value, k)
        const found = own !== undefined && 'value' in own ? visit(own.value, k) : undefined
        if (found !== undefined) return found
      }
      path.pop()
      keys.pop()
      return undefined
    }
    return visit(root, undefined)
  }

  return { parse: v8JsonMessage, circular: v8CircularMessage }
})
