import { describe, expect, it } from 'vitest'
import { differs, setup, thrown } from './ivm'

/**
 * Runs `attempt` (the source of a function of one case) inside the isolate on every case: what it
 * returns, or the `Name: message` of what it throws.
 */
function outcomes(context: { evalClosureSync: (...args: any[]) => any }, attempt: string, cases: unknown[]): string[] {
  return context.evalClosureSync(
    `const attempt = ${attempt}; return $0.map((c) => { try { return attempt(c) } catch (e) { return e.name + ": " + e.message } })`,
    [cases],
    { arguments: { copy: true }, result: { copy: true } },
  )
}

// Error messages as code inside the isolate sees them, pinned to isolated-vm 5.0.4's (V8 11.3)
// exact texts. QuickJS's own wording is patched to V8's in vendor/rquickjs-sys (see PATCHES.md,
// "Error messages").

/** [snippet, `name: message` of what it throws] */
const RUNTIME: [string, string][] = [
  ["const o = {}; o.method()", "TypeError: o.method is not a function"],
  ["let f = 5; f()", "TypeError: f is not a function"],
  ["const o = { a: {} }; o.a.b()", "TypeError: o.a.b is not a function"],
  ["const o = { m: null }; o.m()", "TypeError: o.m is not a function"],
  ["const arr = 5; arr.map(x => x)", "TypeError: arr.map is not a function"],
  ["const o = {}; o[\"x\"]()", "TypeError: o.x is not a function"],
  ["const o = {}; o[0]()", "TypeError: o[0] is not a function"],
  ["const o = {}; const i = 1; o[i]()", "TypeError: o[i] is not a function"],
  ["const o = {}; o?.x()", "TypeError: o?.x is not a function"],
  ["const o = { f() { return {} } }; o.f().g()", "TypeError: o.f(...).g is not a function"],
  ["function f() { return 1 }; f()()", "TypeError: f(...) is not a function"],
  ["\"abc\".foo()", "TypeError: \"abc\".foo is not a function"],
  ["(5).foo()", "TypeError: 5.foo is not a function"],
  ["null()", "TypeError: null is not a function"],
  ["({}).x()", "TypeError: {}.x is not a function"],
  ["[].x()", "TypeError: [].x is not a function"],
  ["(() => 1).x()", "TypeError: (intermediate value).x is not a function"],
  ["const o = {}; (o.f)()", "TypeError: o.f is not a function"],
  ["this.x()", "TypeError: this.x is not a function"],
  ["class A { m() { super.x() } }; new A().m()", "TypeError: (intermediate value).x is not a function"],
  ["class A { #p = 1; m() { this.#p() } }; new A().m()", "TypeError: this[#p] is not a function"],
  ["new Date().foo()", "TypeError: (intermediate value).foo is not a function"],
  ["`x`.foo()", "TypeError: \"x\".foo is not a function"],
  ["const f = 5; f(...[1])", "TypeError: f is not a function"],
  ["const o = {}; o.m(...[1])", "TypeError: o.m is not a function"],
  ["const o = {}; new o.X()", "TypeError: o.X is not a constructor"],
  ["const f = 5; new f()", "TypeError: f is not a constructor"],
  ["new 5", "TypeError: 5 is not a constructor"],
  ["new Math.max()", "TypeError: Math.max is not a constructor"],
  ["new (() => 1)()", "TypeError: (intermediate value) is not a constructor"],
  ["const Ctor = 5; new Ctor", "TypeError: Ctor is not a constructor"],
  ["const input = null; const [a] = input", "TypeError: input is not iterable"],
  ["for (const x of 5) {}", "TypeError: 5 is not iterable"],
  ["for (const x of {}) {}", "TypeError: {} is not iterable"],
  ["const o = {}; for (const x of o.items) {}", "TypeError: o.items is not iterable"],
  ["const [a] = undefined", "TypeError: undefined is not iterable"],
  ["const s = 5; [...s]", "TypeError: s is not iterable"],
  ["Math.max(...5)", "TypeError: Spread syntax requires ...iterable[Symbol.iterator] to be a function"],
  ["const s = null; Math.max(...s)", "TypeError: s is not iterable (cannot read property null)"],
  ["new Map({})", "TypeError: object is not iterable (cannot read property Symbol(Symbol.iterator))"],
  ["new Set(true)", "TypeError: boolean true is not iterable (cannot read property Symbol(Symbol.iterator))"],
  ["new Set(function () {})", "TypeError: function is not iterable (cannot read property Symbol(Symbol.iterator))"],
  ["class Customer {}; Customer()", "TypeError: Class constructor Customer cannot be invoked without 'new'"],
  ["(class {})()", "TypeError: Class constructors cannot be invoked without 'new'"],
  ["let u; u.x", "TypeError: Cannot read properties of undefined (reading 'x')"],
  ["let u = null; u.x", "TypeError: Cannot read properties of null (reading 'x')"],
  ["let u; u.x = 1", "TypeError: Cannot set properties of undefined (setting 'x')"],
  ["let u = null; u.x = 1", "TypeError: Cannot set properties of null (setting 'x')"],
  ["let u; u[0]", "TypeError: Cannot read properties of undefined (reading '0')"],
  ["const c = 1; c = 2", "TypeError: Assignment to constant variable."],
  ["x; let x = 1", "ReferenceError: Cannot access 'x' before initialization"],
  ["1n + 1", "TypeError: Cannot mix BigInt and other types, use explicit conversions"],
  ["1n * 2", "TypeError: Cannot mix BigInt and other types, use explicit conversions"],
  ["+1n", "TypeError: Cannot convert a BigInt value to a number"],
  ["[].reduce((a, b) => a + b)", "TypeError: Reduce of empty array with no initial value"],
  ["new Array(-1)", "RangeError: Invalid array length"],
  ["(1).toFixed(101)", "RangeError: toFixed() digits argument must be between 0 and 100"],
  ["(1).toPrecision(0)", "RangeError: toPrecision() argument must be between 1 and 100"],
  ["\"a\".repeat(-1)", "RangeError: Invalid count value: -1"],
  ["\"a\".repeat(Infinity)", "RangeError: Invalid count value: Infinity"],
  ["BigInt(1.5)", "RangeError: The number 1.5 cannot be converted to a BigInt because it is not an integer"],
  ["\"a\" in 5", "TypeError: Cannot use 'in' operator to search for 'a' in 5"],
  ["({}) instanceof 5", "TypeError: Right-hand side of 'instanceof' is not an object"],
  ["({}) instanceof {}", "TypeError: Right-hand side of 'instanceof' is not callable"],
  ["`${Symbol()}`", "TypeError: Cannot convert a Symbol value to a string"],
  ["Object.defineProperty(1, \"a\", {})", "TypeError: Object.defineProperty called on non-object"],
  ["Reflect.defineProperty(1, \"a\", {})", "TypeError: Reflect.defineProperty called on non-object"],
  ["decodeURIComponent(\"%\")", "URIError: URI malformed"],
  ["decodeURIComponent(\"%E0%A4%A\")", "URIError: URI malformed"],
  ["class A { #x; static g(o) { return o.#x } } A.g({})", "TypeError: Cannot read private member #x from an object whose class did not declare it"],
  ["class A { #x; static s(o) { o.#x = 1 } } A.s({})", "TypeError: Cannot write private member #x to an object whose class did not declare it"],
]

/** [source, message of the SyntaxError compiling it (with our ` [file:line:col]` suffix)] */
const SYNTAX: [string, string][] = [
  ['let a = ;', "Unexpected token ';' [<isolated-vm>:1:9]"],
  ['let a b', "Unexpected identifier 'b' [<isolated-vm>:1:7]"],
  ['let a = "x" "y"', 'Unexpected string [<isolated-vm>:1:13]'],
  ['let a = 1 2', 'Unexpected number [<isolated-vm>:1:11]'],
  ['function f() {', 'Unexpected end of input [<isolated-vm>:1:15]'],
  ['if (', 'Unexpected end of input [<isolated-vm>:1:5]'],
  ['let a = @', 'Invalid or unexpected token [<isolated-vm>:1:9]'],
  ['function f() { await 1 }', 'await is only valid in async functions and the top level bodies of modules [<isolated-vm>:1:16]'],
  // V8 reports these at the token before: the last argument, the redeclared name. QuickJS
  // reports the token where it noticed (end of input, the `=` after the name).
  ['foo(1, 2', differs('missing ) after argument list [<isolated-vm>:1:8]', 'missing ) after argument list [<isolated-vm>:1:9]')],
  ['let x = 1; let x = 2', differs("Identifier 'x' has already been declared [<isolated-vm>:1:16]", "Identifier 'x' has already been declared [<isolated-vm>:1:18]")],
  ['const a = 1; var a = 2', differs("Identifier 'a' has already been declared [<isolated-vm>:1:18]", "Identifier 'a' has already been declared [<isolated-vm>:1:20]")],
]

describe('error messages inside the isolate', () => {
  it('use V8\'s wording for runtime errors', () => {
    const { isolate, context } = setup()
    for (const [code, message] of RUNTIME) {
      const got = context.evalSync(`try { ${code}; 'no error' } catch (e) { e.name + ': ' + e.message }`)
      expect([code, got]).toEqual([code, message])
    }
    isolate.dispose()
  })

  it('use V8\'s wording for syntax errors', () => {
    const { isolate } = setup()
    for (const [code, message] of SYNTAX) {
      const e = thrown(() => isolate.compileScriptSync(code))
      expect([code, e.name, e.message]).toEqual([code, 'SyntaxError', message])
    }
    isolate.dispose()
  })

  it('name the callee when a call of a value that is not a function leaves the isolate', () => {
    const { isolate, context } = setup()
    const e = thrown(() => context.evalSync('const config = {}; config.load()'))
    expect(e.name).toBe('TypeError')
    expect(e.message).toBe('config.load is not a function')
    expect(e.stack.split('\n')[0]).toBe('TypeError: config.load is not a function')
    isolate.dispose()
  })

  it('name the callee in cached scripts too', () => {
    const { isolate, context } = setup()
    const script = isolate.compileScriptSync('const svc = { api: {} }; svc.api.fetch()', { produceCachedData: true })
    const again = isolate.compileScriptSync('const svc = { api: {} }; svc.api.fetch()', { cachedData: script.cachedData })
    expect(thrown(() => again.runSync(context)).message).toBe('svc.api.fetch is not a function')
    isolate.dispose()
  })
})

describe('JSON.parse errors', () => {
  // isolated-vm 5.0.4's messages (V8 11.3), measured input by input.
  const CASES: [string, string][] = [
    ['{bad', "Expected property name or '}' in JSON at position 1"],
    ['{', "Expected property name or '}' in JSON at position 1"],
    ['[1,]', `Unexpected token ']', "[1,]" is not valid JSON`],
    ['', 'Unexpected end of JSON input'],
    [' ', 'Unexpected end of JSON input'],
    ['abc', `Unexpected token 'a', "abc" is not valid JSON`],
    ['{"a":1}x', 'Unexpected non-whitespace character after JSON at position 7'],
    ['"abc', 'Unterminated string in JSON at position 4'],
    ['[1,2', "Expected ',' or ']' after array element in JSON at position 4"],
    ['[1 2]', "Expected ',' or ']' after array element in JSON at position 3"],
    ['undefined', '"undefined" is not valid JSON'],
    ['NaN', '"NaN" is not valid JSON'],
    ['{"a" 1}', "Expected ':' after property name in JSON at position 5"],
    ['{"a":}', `Unexpected token '}', "{"a":}" is not valid JSON`],
    ['{"a":1,}', 'Expected double-quoted property name in JSON at position 7'],
    ['{"a":1,"b"}', `Unexpected token '}', "{"a":1,"b"}" is not valid JSON`],
    ['{"a":"b"', "Expected ',' or '}' after property value in JSON at position 8"],
    ['{"a":', 'Unexpected end of JSON input'],
    ['tru', 'Unexpected end of JSON input'],
    ['trux', `Unexpected token 'x', "trux" is not valid JSON`],
    ['nulll', 'Unexpected non-whitespace character after JSON at position 4'],
    ['01', 'Unexpected number in JSON at position 1'],
    ['1.', 'Unterminated fractional number in JSON at position 2'],
    ['-', 'No number after minus sign in JSON at position 1'],
    ['1e', 'Exponent part is missing a number in JSON at position 2'],
    ['"\\x"', 'Bad escaped character in JSON at position 2'],
    ['"\\u12"', 'Bad Unicode escape in JSON at position 5'],
    ['"a\nb"', 'Bad control character in string literal in JSON at position 2'],
    ['+1', `Unexpected token '+', "+1" is not valid JSON`],
    ['[,1]', `Unexpected token ',', "[,1]" is not valid JSON`],
    ['{"items": [1, 2,]}', `Unexpected token ']', "{"items": [1, 2,]}" is not valid JSON`],
    ['x'.repeat(50), `Unexpected token 'x', "xxxxxxxxxx"... is not valid JSON`],
    ['[1,2,3,4,5,6,7,8,9,10,11,12,13,x]', `Unexpected token 'x', ...",11,12,13,x]" is not valid JSON`],
    ['{"key": "value", "list": [1, 2, 3], "nested": {"deep": true}, "broken": ,}', `Unexpected token ',', ...""broken": ,}" is not valid JSON`],
    ['[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,x,1,1,1,1,1,1,1,1,1,1,1]', `Unexpected token 'x', ..."1,1,1,1,1,x,1,1,1,1,"... is not valid JSON`],
  ]

  it("use V8's words, position and context", () => {
    const { isolate, context } = setup()
    const messages = outcomes(context, '(s) => { JSON.parse(s); return "parsed" }', CASES.map(([text]) => text))
    expect(messages).toEqual(CASES.map(([, message]) => `SyntaxError: ${message}`))
    // Text made from non-strings as JSON.parse makes it; an object's toString is not run twice.
    expect(context.evalSync('let n = 0; try { JSON.parse({ toString() { n++; return "{" } }) } catch (e) {} n')).toBe(1)
    expect(context.evalSync('try { JSON.parse(undefined) } catch (e) { e.message }')).toBe('"undefined" is not valid JSON')
    isolate.dispose()
  })
})

describe('JSON.stringify errors', () => {
  it("describe a circular structure as V8 does, and BigInts in V8's words", () => {
    const { isolate, context } = setup()
    const cases = [
      'const o = {}; o.self = o; o',
      'const o = { a: { b: {} } }; o.a.b.c = o; o',
      'const o = { a: { b: { c: { d: { e: {} } } } } }; o.a.b.c.d.e.f = o.a; o',
      'const a = [1, {}]; a[1].back = a; a',
      'class Foo { constructor() { this.me = this } }; new Foo()',
      'const o = Object.create(null); o.x = o; o',
      'const o = { list: [1, 2, { deep: null }] }; o.list[2].deep = o.list; ({ wrap: o })',
      '({ a: 1n })',
    ]
    const messages = outcomes(context, '(code) => { JSON.stringify((0, eval)(code)); return "ok" }', cases)
    const circular = (...lines: string[]) => ['TypeError: Converting circular structure to JSON', ...lines].join('\n')
    expect(messages).toEqual([
      circular("    --> starting at object with constructor 'Object'", "    --- property 'self' closes the circle"),
      circular(
        "    --> starting at object with constructor 'Object'",
        "    |     property 'a' -> object with constructor 'Object'",
        "    |     property 'b' -> object with constructor 'Object'",
        "    --- property 'c' closes the circle",
      ),
      circular(
        "    --> starting at object with constructor 'Object'",
        "    |     property 'b' -> object with constructor 'Object'",
        "    |     property 'c' -> object with constructor 'Object'",
        '    |     ...',
        "    |     property 'e' -> object with constructor 'Object'",
        "    --- property 'f' closes the circle",
      ),
      circular("    --> starting at object with constructor 'Array'", "    |     index 1 -> object with constructor 'Object'", "    --- property 'back' closes the circle"),
      circular("    --> starting at object with constructor 'Foo'", "    --- property 'me' closes the circle"),
      circular("    --> starting at object with constructor 'Object'", "    --- property 'x' closes the circle"),
      circular("    --> starting at object with constructor 'Array'", "    |     index 2 -> object with constructor 'Object'", "    --- property 'deep' closes the circle"),
      'TypeError: Do not know how to serialize a BigInt',
    ])
    expect(context.evalSync('JSON.stringify({ a: [1, { b: 2 }] })')).toBe('{"a":[1,{"b":2}]}')
    isolate.dispose()
  })
})

describe('failed property writes in strict code', () => {
  it("use V8's words", () => {
    const { isolate, context } = setup()
    const cases = [
      `'use strict'; const o = Object.freeze({ a: 1 }); o.a = 2`,
      `'use strict'; const o = Object.freeze({ a: 1 }); o.b = 2`,
      `'use strict'; const a = Object.freeze([1]); a[0] = 2`,
      `'use strict'; const a = Object.freeze([1]); a.push(2)`,
      `'use strict'; class K {}; const k = Object.freeze(new K()); k.x = 1`,
      `'use strict'; const o = Object.defineProperty({}, 'r', { value: 1 }); o.r = 2`,
      `'use strict'; const s = 'str'; s.x = 1`,
      `'use strict'; const n = 5; n.x = 1`,
      `const o = Object.freeze({ a: 1 }); o.a = 2; o.a`,
    ]
    const messages = outcomes(context, '(code) => String((0, eval)(code))', cases)
    expect(messages).toEqual([
      "TypeError: Cannot assign to read only property 'a' of object '#<Object>'",
      'TypeError: Cannot add property b, object is not extensible',
      "TypeError: Cannot assign to read only property '0' of object '[object Array]'",
      'TypeError: Cannot add property 1, object is not extensible',
      'TypeError: Cannot add property x, object is not extensible',
      "TypeError: Cannot assign to read only property 'r' of object '#<Object>'",
      "TypeError: Cannot create property 'x' on string 'str'",
      "TypeError: Cannot create property 'x' on number '5'",
      '1', // sloppy code: the write is ignored
    ])
    isolate.dispose()
  })
})

describe('regular expression syntax errors', () => {
  it("use V8's words: Invalid regular expression: /pattern/flags: reason", () => {
    const { isolate, context } = setup()
    const cases: [string, string][] = [
      ['[', ''], ['(', ''], [')', ''], ['*', ''], ['a**', ''], ['\\', ''], ['[b-a]', ''], ['a{2,1}', ''], ['(?<n>a)(?<n>b)', ''],
      ['\\k<x>', 'u'], ['(?<1a>x)', ''], ['\\p{Foo}', 'u'], ['a', 'gg'], ['(?', ''], ['[\\d-z]', 'u'], ['\\u{110000}', 'u'],
      ['x{', 'u'], ['+a', ''], ['a)', ''], ['(a', ''], ['[a', ''], ['\\1', 'u'],
    ]
    const messages = outcomes(context, '([p, f]) => { new RegExp(p, f); return "ok" }', cases)
    const invalid = (source: string, reason: string) => `SyntaxError: Invalid regular expression: ${source}: ${reason}`
    expect(messages).toEqual([
      invalid('/[/', 'Unterminated character class'),
      invalid('/(/', 'Unterminated group'),
      invalid('/)/', "Unmatched ')'"),
      invalid('/*/', 'Nothing to repeat'),
      invalid('/a**/', 'Nothing to repeat'),
      invalid('/\\/', '\\ at end of pattern'),
      invalid('/[b-a]/', 'Range out of order in character class'),
      invalid('/a{2,1}/', 'numbers out of order in {} quantifier'),
      invalid('/(?<n>a)(?<n>b)/', 'Duplicate capture group name'),
      invalid('/\\k<x>/u', 'Invalid named capture referenced'),
      invalid('/(?<1a>x)/', 'Invalid capture group name'),
      invalid('/\\p{Foo}/u', 'Invalid property name'),
      "SyntaxError: Invalid flags supplied to RegExp constructor 'gg'",
      invalid('/(?/', 'Invalid group'),
      invalid('/[\\d-z]/u', 'Invalid character class'),
      invalid('/\\u{110000}/u', 'Invalid Unicode escape'),
      invalid('/x{/u', 'Incomplete quantifier'),
      invalid('/+a/', 'Nothing to repeat'),
      invalid('/a)/', "Unmatched ')'"),
      invalid('/(a/', 'Unterminated group'),
      invalid('/[a/', 'Unterminated character class'),
      invalid('/\\1/u', 'Invalid escape'),
    ])
    isolate.dispose()
  })
})
