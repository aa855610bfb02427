'use strict'
// Benchmark scenarios. Each has one body per implementation (isolated-vm's API serves both
// isolated-quickjs and isolated-vm; quickjs-emscripten has its own). A body returns
// { value, unit } for one measurement; the runner repeats it in fresh processes.

/** Mean µs per call of `op` over `n` calls, after a warm-up. */
async function perCall(n, op) {
  for (let i = 0; i < Math.min(n, 200); i++) await op()
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await op()
  return { value: Number(process.hrtime.bigint() - start) / 1e3 / n, unit: 'µs' }
}

function perCallSync(n, op) {
  for (let i = 0; i < Math.min(n, 200); i++) op()
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) op()
  return { value: Number(process.hrtime.bigint() - start) / 1e3 / n, unit: 'µs' }
}

function rssPerInstance(n, make) {
  global.gc?.()
  const before = process.memoryUsage().rss
  const keep = []
  for (let i = 0; i < n; i++) keep.push(make())
  global.gc?.()
  const after = process.memoryUsage().rss
  return { value: (after - before) / 1024 / n, unit: 'KiB', keep }
}

const ivmApi = (body) => ({ 'isolated-quickjs': body, 'isolated-vm': body })

const scenarios = {
  'create+dispose (isolate+context)': {
    ...ivmApi((ivm) =>
      perCallSync(2000, () => {
        const isolate = new ivm.Isolate()
        isolate.createContextSync()
        isolate.dispose()
      }),
    ),
    'quickjs-emscripten': (QuickJS) =>
      perCallSync(2000, () => {
        const runtime = QuickJS.newRuntime()
        const context = runtime.newContext()
        context.dispose()
        runtime.dispose()
      }),
  },
  'RSS per idle isolate+context': {
    ...ivmApi((ivm) =>
      rssPerInstance(200, () => {
        const isolate = new ivm.Isolate()
        return [isolate, isolate.createContextSync()]
      }),
    ),
    'quickjs-emscripten': (QuickJS) =>
      rssPerInstance(200, () => {
        const runtime = QuickJS.newRuntime()
        return [runtime, runtime.newContext()]
      }),
  },
  "evalSync('1+1')": {
    ...ivmApi((ivm) => {
      const context = new ivm.Isolate().createContextSync()
      return perCallSync(50000, () => context.evalSync('1+1'))
    }),
    'quickjs-emscripten': (QuickJS) => {
      const context = QuickJS.newContext()
      return perCallSync(50000, () => {
        const handle = context.unwrapResult(context.evalCode('1+1'))
        context.getNumber(handle)
        handle.dispose()
      })
    },
  },
  "await eval('1+1')": {
    ...ivmApi(async (ivm) => {
      const context = new ivm.Isolate().createContextSync()
      return perCall(10000, () => context.eval('1+1'))
    }),
  },
}

module.exports = { scenarios, perCall, perCallSync }
