'use strict'
// A tour of the API: run `npm run demo`.
const ivm = require('.')

async function main() {
  const isolate = new ivm.Isolate({ memoryLimit: 32 })
  const context = await isolate.createContext()
  const global = context.global
  await global.set('global', global.derefInto())
  console.log('created an isolate and a context; `global` points at globalThis:', context.evalSync('global === globalThis'))

  global.setSync('log', (...args) => console.log('  [isolate says]', ...args))
  context.evalSync('log("hello from QuickJS", 6 * 7)')

  const script = await isolate.compileScript('({ sum: values.reduce((a, b) => a + b, 0), at: new Date(0) })', { filename: 'sum.js' })
  await global.set('values', [1, 2, 3, 4], { copy: true })
  console.log('script result, copied out:', await script.run(context, { copy: true }))

  console.log('evalClosure with arguments:', context.evalClosureSync('return $0 * $1', [6, 7]))
  console.log('a promise, awaited:', await context.eval('(async () => "settled")()', { promise: true }))

  try {
    context.evalSync('function spin() { for (;;) {} }\nspin()', { timeout: 50 })
  } catch (error) {
    console.log('a runaway loop was stopped:', error.stack.split('\n').slice(0, 2).join(' | '))
  }
  try {
    context.evalSync('function fail() { throw new TypeError("bad input") }\nfail()', { filename: '<isolated-vm>' })
  } catch (error) {
    console.log('an error keeps its class and a V8-shaped stack:', error instanceof TypeError, '|', error.stack.split('\n').slice(0, 4).join(' | '))
  }

  const greedy = new ivm.Isolate({ memoryLimit: 8 })
  try {
    greedy.createContextSync().evalSync('const hog = []; for (;;) hog.push("x".repeat(1 << 16))')
  } catch (error) {
    console.log('a memory hog was disposed:', error.message, '| disposed:', greedy.isDisposed)
  }

  const started = process.hrtime.bigint()
  for (let i = 0; i < 1000; i++) new ivm.Isolate().dispose()
  console.log(`1000 isolates created and disposed in ${(Number(process.hrtime.bigint() - started) / 1e6).toFixed(1)} ms`)
  isolate.dispose()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
