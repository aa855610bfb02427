'use strict'
// One quick pass over the API, for any runtime that can load a Node-API addon (Node 18+, Bun):
// isolate + context, evalSync, evalClosureSync, async eval, a timeout, copies, a module, dispose.
// Prints one line, `ok ...` or `FAIL <step>: <error>`, and exits non-zero on failure.
// Usage: node scripts/smoke.js [package dir or name]  (default: this repository)
const path = require('node:path')

const target = process.argv[2] ?? path.join(__dirname, '..')
const runtime =
  typeof globalThis.Bun !== 'undefined' ? `bun ${globalThis.Bun.version}` : `node ${process.version}`

let step = 'load'
async function main() {
  const ivm = require(target)
  step = 'create'
  const isolate = new ivm.Isolate({ memoryLimit: 32 })
  const context = isolate.createContextSync()
  step = 'evalSync'
  const sum = context.evalSync('1 + 1')
  if (sum !== 2) throw new Error(`evalSync gave ${sum}`)
  step = 'evalClosureSync'
  const product = context.evalClosureSync('return $0 * $1', [6, 7])
  if (product !== 42) throw new Error(`evalClosureSync gave ${product}`)
  step = 'eval (async)'
  const text = await context.eval('"a" + "sync"')
  if (text !== 'async') throw new Error(`eval gave ${text}`)
  step = 'timeout'
  let timedOut = false
  try {
    context.evalSync('for (;;) {}', { timeout: 20 })
  } catch (error) {
    timedOut = /timed out/i.test(String(error && error.message))
    if (!timedOut) throw error
  }
  if (!timedOut) throw new Error('the infinite loop returned')
  step = 'copy'
  const copied = context.evalSync('({ list: [1, 2, 3], nested: { when: new Date(0) } })', { copy: true })
  if (copied.list.join() !== '1,2,3' || !(copied.nested.when instanceof Date)) {
    throw new Error(`copy gave ${JSON.stringify(copied)}`)
  }
  const external = new ivm.ExternalCopy({ a: [1, 2] })
  if (external.copy().a[1] !== 2) throw new Error('ExternalCopy.copy() lost data')
  context.global.setSync('fromCopy', external.copyInto())
  if (context.evalSync('fromCopy.a[0] + fromCopy.a[1]') !== 3) throw new Error('copyInto() lost data')
  external.release()
  step = 'module'
  const dep = isolate.compileModuleSync('export const base = 40')
  const main = isolate.compileModuleSync('import { base } from "dep"; export const answer = base + 2')
  main.instantiateSync(context, () => dep)
  main.evaluateSync()
  const answer = main.namespace.getSync('answer')
  if (answer !== 42) throw new Error(`module answer was ${answer}`)
  step = 'dispose'
  isolate.dispose()
  if (!isolate.isDisposed) throw new Error('isDisposed is false after dispose()')
  let afterDispose = false
  try {
    context.evalSync('1')
  } catch {
    afterDispose = true
  }
  if (!afterDispose) throw new Error('evalSync worked on a disposed isolate')
  return `evalSync=${sum} evalClosureSync=${product} eval=${text} timeout=ok copy=ok module=${answer} dispose=ok`
}

main().then(
  (summary) => {
    console.log(`ok ${runtime} napi=${process.versions.napi ?? '?'}: ${summary}`)
    process.exit(0)
  },
  (error) => {
    const message = String((error && error.stack) || error).split('\n').slice(0, 3).join(' | ')
    console.log(`FAIL ${runtime} napi=${process.versions.napi ?? '?'} at ${step}: ${message}`)
    process.exit(1)
  },
)
