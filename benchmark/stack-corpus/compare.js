'use strict'
// Stack-trace parity: runs every snippet of ./snippets.js in isolated-vm 5.0.4 and in
// isolated-quickjs, the way LLMz runs its programs, and compares what comes back.
//
//   node benchmark/stack-corpus/compare.js [--json out.json] [--only NAME] [--verbose]
//
// Each implementation runs in its own child process (isolated-vm needs `--no-node-snapshot`)
// and reports its outcomes as JSON on stdout. Per snippet and run mode the parent compares:
//   (a) error class, name and message
//   (b) number of isolate frames and their function names
//   (c) the line of every isolate frame
//   (d) line and column of every isolate frame
//   (L) what LLMz parses: every `\(<isolated-vm>:(\d+):(\d+)` match in `err.stack`
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
  await Promise.all(Array.from({ length: concurrency }, worker))
  process.stdout.write(JSON.stringify({ implementation, results }))
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
        resolvePromise(JSON.parse(out).results)
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

