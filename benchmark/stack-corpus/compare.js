'use strict'
// Stack-trace parity: runs every snippet of ./snippets.js in isolated-vm 5.0.4 and in
// isolated-quickjs, the way LLMz runs its programs, and compares what comes back.
//
//   node benchmark/stack-corpus/compare.js [--json out.json] [--only NAME] [--verbose] [--concurrency N]
//
//   --json FILE    also write builds, per-level counts, difference classes and every case
//   --only NAME    one snippet
//   --verbose      print both stacks of every case
//   --concurrency  isolates run at once per implementation (default 8; snippets that time out
//                  otherwise take 5 s each, one after the other)
//
// Each implementation runs in its own child process (isolated-vm needs `--no-node-snapshot`)
// and reports its outcomes as JSON on stdout. Per snippet and run mode the parent compares:
//   (a) error class, name and message
//   (b) number of isolate frames and their function names
//   (c) the line of every frame located in the script (`<isolated-vm>:L:C`), in order
//   (d) line and column of each of those frames
//   (L) what LLMz parses: every `\(<isolated-vm>:(\d+):(\d+)` match in `err.stack`
//   (l) the same, lines only (LLMz marks lines with `>`; the column only places the caret)
//   (T) the stack's tail: the boundary marker, and host frames before it
// and classifies each difference in one line.
//
// Run modes: `run` (`await script.run(ctx, { timeout, copy: true, promise: true })`, as LLMz),
// `runSync` (`script.runSync(ctx, { timeout, copy: true })`, for snippets that fail
// synchronously) and `inside` (LLMz-wrapped snippets only: the same script with a catch added
// at the ends of two driver lines, so no position changes, returning the error's own `stack` as
// read inside the isolate).
const { spawn } = require('node:child_process')
const { join, resolve } = require('node:path')
const { existsSync, writeFileSync } = require('node:fs')

const FILENAME = '<isolated-vm>'
const TIMEOUT = 5000
const IMPLEMENTATIONS = {
  'isolated-vm': { path: join(__dirname, '..', '..', '.parity', 'node_modules', 'isolated-vm'), nodeArgs: ['--no-node-snapshot'] },
  'isolated-quickjs': { path: join(__dirname, '..', '..'), nodeArgs: [] },
}
const REFERENCE = 'isolated-vm'
const SUBJECT = 'isolated-quickjs'

// ---------------------------------------------------------------------------------------------
// Child side: run the corpus in one implementation, print the outcomes as JSON.

/** The LLMz driver loop of a wrapped snippet, with a catch that keeps every position in place. */
function insideVariant(code) {
  const open = '\nconst fn = __fn__();\n'
  const close = '\n} while(true);\n'
  if (!code.includes(open) || !code.includes(close)) return null
  const report =
    'return resolve({ __caught: true, isError: e instanceof Error, ctor: e && e.constructor && e.constructor.name,' +
    ' name: e && e.name, message: e && e.message, stack: e && e.stack, value: e instanceof Error ? undefined : String(e), type: typeof e })'
  return code.replace(open, '\nconst fn = __fn__(); try {\n').replace(close, `\n} while(true); } catch (e) { ${report} }\n`)
}

function modesOf(snippet) {
  const modes = ['run']
  if (!snippet.async) modes.push('runSync')
  if (insideVariant(snippet.code)) modes.push('inside')
  return modes
}

/** The agent's tools, installed the way LLMz installs context functions. */
const TOOLS = {
  getWeather: async (city) => ({ city, temp: 21, unit: 'C' }),
  failingTool: async () => {
    throw new Error('My Tool')
  },
  __llmz_yield: async () => undefined,
}

async function installTools(ivm, context) {
  await context.global.set('global', context.global.derefInto())
  for (const [name, f] of Object.entries(TOOLS)) {
    await context.evalClosure(
      `global['${name}'] = (...args) => $0.applySyncPromise(null, args, {arguments: {copy: true}});`,
      [async (...args) => new ivm.ExternalCopy(await f(...args)).copyInto()],
      { arguments: { reference: true } },
    )
  }
}

function jsonable(value) {
  try {
    return JSON.parse(JSON.stringify(value === undefined ? null : value))
  } catch {
    return String(value)
  }
}

/** What a caught value looks like from the host. */
function describeThrown(e) {
  if (e !== null && typeof e === 'object' && typeof e.stack === 'string' && 'message' in e) {
    return { kind: 'error', ctor: e.constructor?.name ?? null, name: e.name, message: e.message, stack: e.stack }
  }
  if (e === null || (typeof e !== 'object' && typeof e !== 'function')) {
    return { kind: 'primitive', type: e === null ? 'null' : typeof e, value: String(e) }
  }
  return { kind: 'object', ctor: e.constructor?.name ?? null, value: jsonable(e) }
}

function describeInside(caught) {
  if (caught.isError) return { kind: 'error', ctor: caught.ctor, name: caught.name, message: caught.message, stack: caught.stack }
  return { kind: caught.type === 'object' ? 'object' : 'primitive', type: caught.type, value: caught.value }
}

async function runOne(ivm, snippet, mode) {
  const code = mode === 'inside' ? insideVariant(snippet.code) : snippet.code
  const isolate = new ivm.Isolate({ memoryLimit: 128 })
  const started = Date.now()
  let context
  try {
    context = await isolate.createContext()
    await installTools(ivm, context)
    let script
    try {
      script = await isolate.compileScript(code, { filename: FILENAME, columnOffset: 0, lineOffset: 0 })
    } catch (e) {
      return { phase: 'compile', ms: Date.now() - started, ...describeThrown(e) }
    }
    try {
      const value =
        mode === 'runSync'
          ? script.runSync(context, { timeout: TIMEOUT, copy: true })
          : await script.run(context, { timeout: TIMEOUT, copy: true, promise: true })
      if (mode === 'inside' && value && value.__caught) return { phase: 'run', ms: Date.now() - started, ...describeInside(value) }
      return { phase: 'run', ms: Date.now() - started, kind: 'returned', value: jsonable(value) }
    } catch (e) {
      return { phase: 'run', ms: Date.now() - started, ...describeThrown(e) }
    }
  } finally {
    try {
      context?.release()
    } catch {}
    try {
      isolate.dispose()
    } catch {}
  }
}

/** Which build ran: package version, and for isolated-quickjs the native binary and commit. */
function buildOf(implementation) {
  const { readFileSync, statSync, readdirSync } = require('node:fs')
  const root = IMPLEMENTATIONS[implementation].path
  const build = { version: JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version }
  if (implementation === SUBJECT) {
    const binary = readdirSync(root).find((f) => f.endsWith('.node'))
    if (binary) build.binary = `${binary} built ${statSync(join(root, binary)).mtime.toISOString()}`
    try {
      const head = readFileSync(join(root, '.git', 'HEAD'), 'utf8').trim()
      build.commit = head.startsWith('ref: ') ? readFileSync(join(root, '.git', head.slice(5)), 'utf8').trim().slice(0, 7) : head.slice(0, 7)
    } catch {}
  }
  return build
}

async function child(implementation, only, concurrency) {
  const ivm = require(IMPLEMENTATIONS[implementation].path)
  const snippets = require('./snippets').filter((s) => !only || s.name === only)
  const jobs = []
  for (const snippet of snippets) for (const mode of modesOf(snippet)) jobs.push({ snippet, mode })
  const results = {}
  let next = 0
  // Snippets that time out would otherwise take TIMEOUT each, one after the other.
  const worker = async () => {
    while (next < jobs.length) {
      const { snippet, mode } = jobs[next++]
      let outcome
      try {
        outcome = await runOne(ivm, snippet, mode)
      } catch (e) {
        outcome = { phase: 'harness', ...describeThrown(e) }
      }
      ;(results[snippet.name] ??= {})[mode] = outcome
    }
  }
  // Awaited one by one, not with Promise.all: host frames then name this file, never
  // `async Promise.all (index N)`, which is also what the isolate's own Promise.all looks like.
  const workers = Array.from({ length: concurrency }, worker)
  for (const w of workers) await w
  process.stdout.write(JSON.stringify({ implementation, build: buildOf(implementation), results }))
}

// ---------------------------------------------------------------------------------------------
// Parent side.

function runChild(implementation, only, concurrency) {
  const { nodeArgs } = IMPLEMENTATIONS[implementation]
  const args = [...nodeArgs, __filename, '--child', implementation, '--concurrency', String(concurrency)]
  if (only) args.push('--only', only)
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    proc.stdout.on('data', (d) => (out += d))
    proc.stderr.on('data', (d) => (err += d))
    proc.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${implementation} child exited with ${code}\n${err}`))
      try {
        resolvePromise(JSON.parse(out))
      } catch (e) {
        reject(new Error(`${implementation} child printed no JSON: ${e.message}\n${err}\n${out.slice(0, 2000)}`))
      }
    })
  })
}

module.exports = { insideVariant, modesOf, runOne }

function parseArgs(argv) {
  const options = { json: null, only: null, verbose: false, concurrency: 8, child: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') options.json = argv[++i]
    else if (a === '--only') options.only = argv[++i]
    else if (a === '--verbose') options.verbose = true
    else if (a === '--concurrency') options.concurrency = Number(argv[++i])
    else if (a === '--child') options.child = argv[++i]
    else throw new Error(`unknown argument ${a}`)
  }
  return options
}

if (require.main === module) {
  const options = parseArgs(process.argv.slice(2))
  if (options.child) {
    child(options.child, options.only, options.concurrency).then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(String(e?.stack ?? e) + '\n')
        process.exit(1)
      },
    )
  } else {
    main(options).catch((e) => {
      process.stderr.write(String(e?.stack ?? e) + '\n')
      process.exit(1)
    })
  }
}


// ---------------------------------------------------------------------------------------------
// Reading stacks.

const BOUNDARY = 'at (<isolated-vm boundary>)'
const LLMZ_PATTERN = /\(<isolated-vm>:(\d+):(\d+)/g

/** One `    at …` line: function name (null for bare locations), location, line, column. */
function parseFrame(text) {
  let body = text.trim().slice(3)
  let fn = null
  let location = body
  if (body.endsWith(')')) {
    // The location is the last balanced `( … )`; V8 eval locations nest parentheses.
    let depth = 0
    for (let i = body.length - 1; i >= 0; i--) {
      if (body[i] === ')') depth++
      else if (body[i] === '(' && --depth === 0) {
        if (i > 0) {
          fn = body.slice(0, i).trimEnd()
          location = body.slice(i + 1, -1)
        }
        break
      }
    }
  } else if (body.startsWith('async ')) {
    fn = 'async'
    location = body.slice(6)
  }
  const m = /^(.*):(\d+):(\d+)$/.exec(location)
  const file = m ? m[1] : location
  return { text: text.trim(), fn, file, line: m ? Number(m[2]) : null, col: m ? Number(m[3]) : null, host: isHostLocation(file) }
}

function isHostLocation(file) {
  return /^(\/|node:|file:|[A-Za-z]:\\)/.test(file)
}

/** Header, the isolate's frames (up to the boundary marker), and what follows them. */
function readStack(stack) {
  const lines = String(stack ?? '').split('\n')
  const first = lines.findIndex((l) => /^\s+at /.test(l))
  const header = first < 0 ? lines.join('\n') : lines.slice(0, first).join('\n')
  const frames = []
  let boundary = false
  if (first >= 0) {
    for (const l of lines.slice(first)) {
      if (!/^\s+at /.test(l)) continue
      if (l.trim() === BOUNDARY) {
        boundary = true
        break
      }
      frames.push(parseFrame(l))
    }
  }
  return {
    header,
    boundary,
    frames: frames.filter((f) => !f.host),
    hostFramesBeforeBoundary: frames.filter((f) => f.host).length,
    llmz: [...String(stack ?? '').matchAll(LLMZ_PATTERN)].map((m) => `${m[1]}:${m[2]}`),
  }
}

const isScriptFrame = (f) => f.file === FILENAME && f.line !== null

// ---------------------------------------------------------------------------------------------
// Comparing one case (snippet × mode).

function outcomeKey(o) {
  if (o.kind === 'error') return `${o.ctor}|${o.name}|${o.message}`
  if (o.kind === 'returned') return `returned|${JSON.stringify(o.value)}`
  return `${o.kind}|${o.type ?? o.ctor}|${JSON.stringify(o.value)}`
}

function describeOutcome(o) {
  if (o.kind === 'error') return `${o.ctor === o.name ? '' : `[${o.ctor}] `}${o.name}: ${o.message}`
  if (o.kind === 'returned') return `returned ${JSON.stringify(o.value)}`
  return `threw ${o.kind} ${JSON.stringify(o.value)}`
}

function compareCase(snippet, mode, v8, qjs) {
  const sv = readStack(v8.stack)
  const sq = readStack(qjs.stack)
  const names = (s) => s.frames.map((f) => f.fn ?? '')
  const lines = (s) => s.frames.filter(isScriptFrame).map((f) => f.line)
  const positions = (s) => s.frames.filter(isScriptFrame).map((f) => `${f.line}:${f.col}`)
  const same = (x, y) => JSON.stringify(x) === JSON.stringify(y)
  const levels = {
    a: outcomeKey(v8) === outcomeKey(qjs),
    b: same(names(sv), names(sq)),
    c: same(lines(sv), lines(sq)),
    d: same(positions(sv), positions(sq)),
    L: same(sv.llmz, sq.llmz),
    l: same(sv.llmz.map((p) => p.split(':')[0]), sq.llmz.map((p) => p.split(':')[0])),
    T: sv.boundary === sq.boundary && (sv.hostFramesBeforeBoundary > 0) === (sq.hostFramesBeforeBoundary > 0),
  }
  const differences = classify(snippet, mode, v8, qjs, sv, sq)
  return { snippet: snippet.name, mode, levels, differences, v8, qjs, stacks: { v8: sv, qjs: sq } }
}

// ---------------------------------------------------------------------------------------------
// Classifying differences. Each returns { cls, example } with the QuickJS and V8 texts.

const MESSAGE_KINDS = [
  [/^Cannot read properties of (null|undefined) \(reading/, 'reading a property of null/undefined'],
  [/is not a function$/, 'calling a non-function'],
  [/is not iterable/, 'destructuring/iterating a non-iterable'],
  [/JSON/, 'JSON.parse'],
  [/^Unexpected token/, 'compile SyntaxError'],
  [/^Could not start: /, 'JSON.parse (wrapped in another message)'],
  [/cannot be invoked without 'new'/, 'class called without new'],
  [/Assignment to constant/, 'assignment to const'],
  [/BigInt/, 'BigInt mixed with Number'],
  [/array length/i, 'invalid array length (case only)'],
  [/toFixed/, 'toFixed digits'],
  [/URI malformed/, 'URIError'],
  [/An object was thrown/, 'non-Error object thrown'],
]

function messageKind(message) {
  for (const [re, label] of MESSAGE_KINDS) if (re.test(message)) return label
  return 'other'
}

function normName(f) {
  let n = f.fn ?? ''
  if (n === 'async' || n === 'eval' || n === '<anonymous>') n = ''
  n = n.replace(/^async /, '').replace(/^new /, '').replace(/ \[as [^\]]+\]$/, '')
  if (!n.startsWith('get ') && !n.startsWith('set ')) n = n.slice(n.lastIndexOf('.') + 1)
  return n
}

function fileKind(f) {
  if (f.file === FILENAME) return 'script'
  if (f.file === '<input>' || f.file.startsWith('eval at ')) return 'eval'
  if (f.file === '<anonymous>' || f.file === 'native') return 'builtin'
  return f.file
}

/** Whether a V8 frame and a QuickJS frame stand for the same activation. */
function framesMatch(v, q) {
  if (/^async( |$)/.test(v.fn ?? '') && q.fn === '<anonymous>' && q.file === '<anonymous>') return true
  return normName(v) === normName(q) && fileKind(v) === fileKind(q)
}

/** Longest common subsequence alignment: pairs, V8-only frames, QuickJS-only frames. */
function align(vf, qf) {
  const n = vf.length
  const m = qf.length
  const dp = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0))
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      dp[i][j] = framesMatch(vf[i], qf[j]) ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1])
  const pairs = []
  const v8Only = []
  const qjsOnly = []
  let i = 0
  let j = 0
  while (i < n && j < m) {
    if (framesMatch(vf[i], qf[j])) pairs.push([i++, j++])
    else if (dp[i + 1][j] >= dp[i][j + 1]) v8Only.push(i++)
    else qjsOnly.push(j++)
  }
  while (i < n) v8Only.push(i++)
  while (j < m) qjsOnly.push(j++)
  return { pairs, v8Only, qjsOnly }
}

function tokenAt(text, col) {
  const i = col - 1
  if (i < 0 || i >= text.length) return null
  const word = /[A-Za-z0-9_$]/
  if (word.test(text[i])) {
    let a = i
    let b = i
    while (a > 0 && word.test(text[a - 1])) a--
    while (b + 1 < text.length && word.test(text[b + 1])) b++
    return { text: text.slice(a, b + 1), start: a, end: b + 1, word: true }
  }
  return { text: text[i], start: i, end: i + 1, word: false }
}

const KEYWORDS = new Set(['throw', 'return', 'const', 'let', 'var', 'yield', 'await', 'typeof', 'if', 'for', 'class', 'function'])

/** What the 1-based column of a source line points at, in words. */
function roleAt(text, col) {
  const tok = tokenAt(text, col)
  if (!tok) return { role: 'past the end of the line', tok: '' }
  if (!tok.word) return { role: `\`${tok.text}\``, tok: tok.text }
  if (tok.text === 'new') return { role: '`new`', tok: 'new' }
  if (KEYWORDS.has(tok.text)) return { role: `\`${tok.text}\``, tok: tok.text }
  if (/^\d/.test(tok.text)) return { role: 'a literal', tok: tok.text }
  const before = text.slice(0, tok.start).trimEnd()
  const after = text.slice(tok.end).trimStart()
  const prevChar = before[before.length - 1]
  if (/\bnew$/.test(before)) return { role: 'the callee of `new`', tok: tok.text }
  if (after[0] === '(' || after[0] === '`') return { role: prevChar === '.' ? 'the method name' : 'the callee', tok: tok.text }
  if (prevChar === '.') return { role: 'the property name', tok: tok.text }
  if (after[0] === '.' || after[0] === '[') return { role: 'the object of a member expression', tok: tok.text }
  if (/^=[^=]/.test(after)) return { role: 'an assignment target', tok: tok.text }
  return { role: 'an operand', tok: tok.text }
}

/** Is `col` inside the parentheses of the call that starts at `callCol` on the same line? */
function insideArguments(text, callCol, col) {
  const open = text.indexOf('(', callCol - 1)
  if (open < 0 || col - 1 <= open) return false
  let depth = 0
  for (let i = open; i < text.length; i++) {
    if (text[i] === '(') depth++
    else if (text[i] === ')' && --depth === 0) return col - 1 < i
  }
  return true
}

/**
 * Why a frame's column differs. QuickJS stores the position of the last sub-expression that
 * carried one before the failing instruction; V8 stores the position of the operation itself.
 */
function columnClass(source, v, q, innermost, message) {
  const text = source.split('\n')[v.line - 1] ?? ''
  const rv = roleAt(text, v.col)
  const rq = roleAt(text, q.col)
  const accessed = rv.role === 'the property name' || rv.role === 'the method name' || rv.tok === '['
  const called = rv.role === 'the callee' || rv.role === 'the method name'
  if (rv.tok === 'new' && rq.role === 'the callee of `new`') return 'column: QuickJS points at the callee of `new`, V8 at `new`'
  if (rv.tok === 'new' && insideArguments(text, v.col, q.col))
    return 'column: `new X(args)` — QuickJS points into the arguments (last operand that carries a position), V8 at `new`'
  if (innermost && /^Maximum call stack/.test(message)) return 'column (stack overflow): QuickJS at the last located operand of the recursive call, V8 at the start of the statement'
  if (innermost && accessed && q.col < v.col && /^Cannot read properties/.test(message))
    return 'column (throw site, property of null/undefined): QuickJS points at the object expression (start of the member chain, or the call that produced the value), V8 at the accessed property'
  if (called && insideArguments(text, v.col, q.col))
    return innermost
      ? 'column (throw site, failed call): QuickJS points into the arguments, V8 at the callee'
      : 'column (call site): QuickJS points into the arguments (last operand that carries a position), V8 at the callee'
  if (!innermost && rv.role === 'the property name' && q.col < v.col) return 'column (call site of a getter): QuickJS at the object, V8 at the property name'
  if (!innermost && rv.tok === '(' && q.col < v.col) return 'column (call site, `f(x)()`): QuickJS at the start of the callee expression, V8 at the `(` of the outer call'
  if (!innermost && /^\s*for\s*\(/.test(text) && q.col > v.col) return 'column (call site, `for…of` over a generator): QuickJS at the last located operand of the loop body, V8 at the loop variable'
  return `column (${innermost ? 'throw site' : 'call site'}): QuickJS at ${rq.role}, V8 at ${rv.role}`
}

function frameText(f) {
  return f ? f.text : '—'
}

function classify(snippet, mode, v8, qjs, sv, sq) {
  const out = []
  const add = (cls, example) => {
    if (!out.some((d) => d.cls === cls)) out.push({ cls, example })
  }
  // Outcome and message.
  const timedOut = (o) => o.kind === 'error' && o.message === 'Script execution timed out.'
  if (v8.kind !== qjs.kind || v8.phase !== qjs.phase || timedOut(v8) !== timedOut(qjs)) {
    if (timedOut(qjs) && !timedOut(v8))
      add('outcome: QuickJS run times out — the rejection of the `new Promise(async …)` executor is never reported while the outer promise stays pending; V8 throws it as the run\'s error', {
        qjs: `${describeOutcome(qjs)} (after ${qjs.ms} ms)`,
        v8: `${describeOutcome(v8)} (after ${v8.ms} ms)`,
      })
    else if (qjs.phase === 'compile' && v8.phase !== 'compile')
      add(`outcome: QuickJS fails to compile what V8 compiles (${qjs.message.replace(/ \[.*\]$/, '')})`, { qjs: describeOutcome(qjs), v8: describeOutcome(v8) })
    else if (v8.kind === 'error' && /An object was thrown/.test(v8.message))
      add('outcome: a thrown non-Error object — V8 replaces it with `Error: An object was thrown from supplied code…`, QuickJS passes a copy of the object', { qjs: describeOutcome(qjs), v8: describeOutcome(v8) })
    else add(`outcome differs: QuickJS ${qjs.kind}, V8 ${v8.kind}`, { qjs: describeOutcome(qjs), v8: describeOutcome(v8) })
    return out
  }
  if (v8.kind !== 'error') {
    if (outcomeKey(v8) !== outcomeKey(qjs)) add('value differs', { qjs: describeOutcome(qjs), v8: describeOutcome(v8) })
    return out
  }
  if (v8.ctor !== qjs.ctor) add(`host class differs: QuickJS ${qjs.ctor}, V8 ${v8.ctor}`, { qjs: describeOutcome(qjs), v8: describeOutcome(v8) })
  if (v8.name !== qjs.name) add(`error name differs: QuickJS ${qjs.name}, V8 ${v8.name}`, { qjs: describeOutcome(qjs), v8: describeOutcome(v8) })
  else if (v8.message !== qjs.message) {
    const kind = messageKind(v8.message)
    const extra = qjs.message.startsWith(v8.message) ? ' (QuickJS appends to the same text)' : ''
    add(`message: QuickJS wording differs — ${v8.name}, ${kind}${extra}`, { qjs: `${qjs.name}: ${qjs.message}`, v8: `${v8.name}: ${v8.message}` })
  }
  if (sv.header !== sq.header && v8.name === qjs.name && v8.message === qjs.message)
    add('stack header differs', { qjs: sq.header, v8: sv.header })

  // Frames.
  const { pairs, v8Only, qjsOnly } = align(sv.frames, sq.frames)
  for (const i of v8Only) {
    const f = sv.frames[i]
    if (/^async( |$)/.test(f.fn ?? '')) add('frames: V8 adds async stack frames (`at async caller (…)`) for awaiting callers; QuickJS has none', { qjs: '(no frame)', v8: f.text })
    else if (fileKind(f) === 'builtin' && /\.next$/.test(f.fn ?? '')) add('frames: V8 shows the generator resume frame (`gen.next (<anonymous>)`) for a `for…of` loop; QuickJS has none', { qjs: '(no frame)', v8: f.text })
    else add(`frames: V8-only frame \`${f.fn ?? '<top-level>'}\` (${fileKind(f)})`, { qjs: '(no frame)', v8: f.text })
  }
  for (const j of qjsOnly) {
    const f = sq.frames[j]
    const next = sq.frames[j + 1]
    if (f.file === '<input>' && !f.fn && next && normName(next) === 'parse') add('frames: QuickJS adds a `<input>:1:N` frame pointing into the JSON text before `parse`', { qjs: f.text, v8: '(no frame)' })
    else if (j === 0 && /Error$/.test(f.fn ?? '') && fileKind(f) === 'script')
      add('frames: QuickJS includes the constructor frame of an Error subclass (V8 starts at the `new` site)', { qjs: f.text, v8: '(no frame)' })
    else if (j === 0 && fileKind(f) === 'script' && /cannot be invoked|must be invoked/.test(qjs.message))
      add('frames: QuickJS includes a frame for the class constructor called without `new` (V8 throws at the call site)', { qjs: f.text, v8: '(no frame)' })
    else if (f.fn === 'apply' && fileKind(f) === 'builtin' && normName(sq.frames[j - 1] ?? {}) === 'parse')
      add('frames: QuickJS shows `at apply (<anonymous>)` under `parse` — left by the prelude\'s JSON.parse wrapper', { qjs: f.text, v8: '(no frame)' })
    else if (j === 0 && fileKind(f) === 'builtin') add(`frames: QuickJS includes the throwing builtin as the innermost frame (\`${f.fn}\`); V8 does not`, { qjs: f.text, v8: '(no frame)' })
    else add(`frames: QuickJS-only frame \`${f.fn ?? '<top-level>'}\` (${fileKind(f)})`, { qjs: f.text, v8: '(no frame)' })
  }
  for (const [i, j] of pairs) {
    const v = sv.frames[i]
    const q = sq.frames[j]
    const ex = { qjs: q.text, v8: v.text }
    if ((v.fn ?? '') !== (q.fn ?? '')) {
      const vn = v.fn ?? ''
      const qn = q.fn ?? ''
      if (/^async( |$)/.test(vn) && qn === '<anonymous>')
        add('frames: async resumption — V8 `at async [caller] (<isolated-vm>:L:C)` (the awaiting caller, with its position), QuickJS `at <anonymous> (<anonymous>)`', ex)
      else if (vn === 'eval' && fileKind(v) === 'eval') {
        // Reported with the location below.
      }      else if (vn === `new ${qn}`) add(`frames: V8 prefixes constructor frames with \`new\`${fileKind(v) === 'builtin' ? ' (builtin `new Promise`)' : ''}`, ex)
      else if (vn === `${qn} [as ${qn.replace(/^[gs]et /, '')}]`) add('frames: V8 adds `[as name]` to accessor frames (`get x [as x]`)', ex)
      else if (vn.endsWith(`.${qn}`)) {
        const owner = vn.slice(0, -qn.length - 1)
        if (fileKind(v) === 'builtin' && qn === 'next') add('frames: generator resume frame — V8 `at gen.next (<anonymous>)`, QuickJS `at next (<anonymous>)`', ex)
        else if (fileKind(v) === 'builtin') add('frames: V8 names builtin frames `Type.method` (`Array.map`, `JSON.parse`, `Number.toFixed`), QuickJS the bare method (`map`)', ex)
        else if (owner === 'Object') add('frames: V8 names object-literal methods `Object.method`, QuickJS `method`', ex)
        else add('frames: V8 names class methods `Class.method` (and static `Class.method`), QuickJS `method`', ex)
      } else add(`frames: function name differs`, ex)
    }
    if (v.file !== q.file && fileKind(v) === 'eval')
      add("frames: eval'd code — V8 `at eval (eval at f (<isolated-vm>:L:C), <anonymous>:l:c)` (named `eval` at top level), QuickJS `at <input>:l:c`", ex)
    if (isScriptFrame(v) && isScriptFrame(q)) {
      if (v.line !== q.line) add(`line differs${q.line === 1 && q.col === 1 ? ': QuickJS reports 1:1 (no position recorded for the failing operation)' : ''}`, ex)
      else if (v.col !== q.col) add(columnClass(snippet.code, v, q, i === 0, v8.message), ex)
    } else if (fileKind(v) === 'eval' && fileKind(q) === 'eval' && (v.line !== q.line || v.col !== q.col)) {
      add("column: inside eval'd code (same kinds of position differences as in the script)", ex)
    }
  }
  if (sv.boundary !== sq.boundary) {
    if (!sv.boundary && mode !== 'inside')
      add('tail: QuickJS appends `at (<isolated-vm boundary>)` and host frames to a rejection delivered through `promise: true`; V8 gives the isolate frames only', { qjs: '…\n    at (<isolated-vm boundary>)\n    at <host frames>', v8: '(stack ends with the isolate frames)' })
    else add(`tail: boundary marker ${sq.boundary ? 'only in QuickJS' : 'only in V8'}`, { qjs: String(sq.boundary), v8: String(sv.boundary) })
  }
  if ((sv.hostFramesBeforeBoundary > 0) !== (sq.hostFramesBeforeBoundary > 0)) {
    if (mode === 'inside' && sq.hostFramesBeforeBoundary > 0)
      add("tail: a host tool's error, caught inside the isolate, carries the host's frames in its `stack` (V8: no frames at all)", { qjs: qjs.stack.split('\n').slice(0, 2).join(' ⏎ '), v8: v8.stack.split('\n').slice(0, 2).join(' ⏎ ') })
    else add('tail: host frames before the boundary marker differ', { qjs: String(sq.hostFramesBeforeBoundary), v8: String(sv.hostFramesBeforeBoundary) })
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Report.

const LEVELS = [
  ['a', 'name + message identical (and host class)'],
  ['b', 'frame count + function names identical'],
  ['c', 'line numbers identical'],
  ['d', 'line AND column identical'],
  ['L', "LLMz's `\\(<isolated-vm>:(\\d+):(\\d+)` matches identical"],
  ['l', 'same LLMz matches, lines only (its `>` markers)'],
  ['T', 'stack tail identical (boundary marker, host frames)'],
]

function pad(s, n) {
  s = String(s)
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

function report(cases, snippets) {
  const mark = (ok) => (ok ? '✓' : '✗')
  const width = Math.max(...cases.map((c) => c.snippet.length)) + 2
  const rows = []
  rows.push(`${pad('snippet', width)}${pad('mode', 9)}a b c d L l T  first difference`)
  rows.push('-'.repeat(width + 9 + 16 + 40))
  for (const c of cases) {
    const l = c.levels
    const first = c.differences[0]?.cls ?? ''
    rows.push(`${pad(c.snippet, width)}${pad(c.mode, 9)}${[l.a, l.b, l.c, l.d, l.L, l.l, l.T].map(mark).join(' ')}  ${first.length > 110 ? first.slice(0, 107) + '…' : first}`)
  }
  console.log(rows.join('\n'))

  console.log('\nSummary (identical / total)')
  const modes = ['run', 'runSync', 'inside', 'all cases']
  console.log(`  ${pad('level', 64)}${modes.map((m) => pad(m, 11)).join('')}snippets (every mode)`)
  for (const [key, label] of LEVELS) {
    const cells = modes.map((m) => {
      const sel = cases.filter((c) => m === 'all cases' || c.mode === m)
      return pad(`${sel.filter((c) => c.levels[key]).length}/${sel.length}`, 11)
    })
    const bySnippet = snippets.filter((s) => cases.filter((c) => c.snippet === s.name).every((c) => c.levels[key])).length
    console.log(`  ${pad(`(${key}) ${label}`, 64)}${cells.join('')}${bySnippet}/${snippets.length}`)
  }
  const fully = cases.filter((c) => Object.values(c.levels).every(Boolean)).length
  console.log(`  ${pad('all of the above', 64)}${pad('', 33)}${pad(`${fully}/${cases.length}`, 11)}`)

  const classes = new Map()
  for (const c of cases)
    for (const d of c.differences) {
      if (!classes.has(d.cls)) classes.set(d.cls, { cls: d.cls, count: 0, cases: [], example: { ...d.example, where: `${c.snippet} / ${c.mode}` } })
      const e = classes.get(d.cls)
      e.count++
      e.cases.push(`${c.snippet}/${c.mode}`)
    }
  const sorted = [...classes.values()].sort((x, y) => y.count - x.count || x.cls.localeCompare(y.cls))
  console.log(`\nDifference classes (${sorted.length}; count = cases showing it)`)
  for (const e of sorted) {
    console.log(`\n  [${e.count}] ${e.cls}`)
    console.log(`      e.g. ${e.example.where}`)
    console.log(`        QuickJS: ${String(e.example.qjs).replace(/\n/g, ' ⏎ ')}`)
    console.log(`        V8:      ${String(e.example.v8).replace(/\n/g, ' ⏎ ')}`)
  }
  return sorted
}

function printVerbose(cases) {
  for (const c of cases) {
    console.log(`\n=== ${c.snippet} / ${c.mode}`)
    for (const [label, o] of [['V8', c.v8], ['QuickJS', c.qjs]]) {
      const text = o.kind === 'error' ? o.stack.split('\n').filter((l) => !/\((\/|node:)|at (\/|node:)/.test(l)).join('\n      ') : describeOutcome(o)
      console.log(`  ${label}: ${text}`)
    }
  }
}

async function main(options) {
  if (!existsSync(IMPLEMENTATIONS[REFERENCE].path)) {
    throw new Error(`isolated-vm is not installed at ${IMPLEMENTATIONS[REFERENCE].path} (run scripts/parity.js once)`)
  }
  const snippets = require('./snippets').filter((s) => !options.only || s.name === options.only)
  const [reference, subject] = await Promise.all([
    runChild(REFERENCE, options.only, options.concurrency),
    runChild(SUBJECT, options.only, options.concurrency),
  ])
  console.log(`${REFERENCE} ${reference.build.version} vs ${SUBJECT} ${subject.build.version}` +
    ` (${[subject.build.commit && `commit ${subject.build.commit}`, subject.build.binary].filter(Boolean).join(', ')}); node ${process.version}\n`)
  const cases = []
  for (const snippet of snippets)
    for (const mode of modesOf(snippet))
      cases.push(compareCase(snippet, mode, reference.results[snippet.name][mode], subject.results[snippet.name][mode]))
  if (options.verbose) printVerbose(cases)
  const classes = report(cases, snippets)
  if (options.json) {
    const levels = Object.fromEntries(LEVELS.map(([k, label]) => [k, { label, identical: cases.filter((c) => c.levels[k]).length, total: cases.length }]))
    const builds = { [REFERENCE]: reference.build, [SUBJECT]: subject.build }
    writeFileSync(resolve(options.json), JSON.stringify({ builds, levels, classes, cases }, null, 2))
    console.log(`\nwrote ${options.json}`)
  }
}
