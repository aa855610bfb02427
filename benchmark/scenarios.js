'use strict'
// Benchmark scenarios. Each has one body per implementation (isolated-vm's API serves both
// isolated-quickjs and isolated-vm; quickjs-emscripten has its own). A body returns
// { value, unit } for one measurement; the runner repeats it in fresh processes.

/** Mean µs per call of `op` over `n` calls, after a warm-up (`warmup` calls, default up to 200). */
async function perCall(n, op, warmup = Math.min(n, 200)) {
  for (let i = 0; i < warmup; i++) await op()
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await op()
  return { value: Number(process.hrtime.bigint() - start) / 1e3 / n, unit: 'µs' }
}

/** Median µs of `op` over `n` calls, `pauseMs` of idle event loop between calls, after `warmup` calls. */
async function medianSpaced(n, pauseMs, op, warmup = 50) {
  const pause = () => new Promise((resolve) => setTimeout(resolve, pauseMs))
  for (let i = 0; i < warmup; i++) {
    await op()
    await pause()
  }
  const times = []
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint()
    await op()
    times.push(Number(process.hrtime.bigint() - start) / 1e3)
    await pause()
  }
  times.sort((a, b) => a - b)
  return { value: times[times.length >> 1], unit: 'µs' }
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

/** About 0.5 MB of records mixing strings, numbers, booleans, nesting, arrays and dates. */
function mixedObject() {
  const records = []
  for (let i = 0; records.length < 3400; i++) {
    records.push({ id: i, name: `item-${i}`, price: i * 1.25, active: i % 3 === 0, tags: ['a', 'b', String(i % 7)], when: new Date(i * 1000), nested: { depth: { value: i } } })
  }
  return { records, meta: { count: records.length, title: 'mixed' } }
}

/**
 * Executions an agent host has made before the LLMz rows are timed: a host runs executions for
 * as long as it lives, and V8 keeps optimising our JavaScript (and the driver's) for the first
 * ~600 of them (ours: ~1.8 ms each for the first 200, ~1.1 ms for the next 200, then steady;
 * isolated-vm's are flat). The same warm-up for every implementation.
 */
const AGENT_WARMUP = 1000

/** An LLMz-like agent step: 5 tools, 10 variables, a 40-line async program with 10 tool calls. */
function llmzWorkload() {
  const contextObject = () => ({
    search: async (q) => ({ query: q, hits: [{ id: 1, title: 'first' }, { id: 2, title: 'second' }] }),
    fetchUser: async (id) => ({ id, name: `user-${id}`, roles: ['reader'] }),
    sum: async (a, b) => a + b,
    now: async () => 1700000000000,
    store: async (key, value) => ({ stored: key, size: JSON.stringify(value).length }),
    counter: 0,
    name: 'agent',
    limit: 5,
    ratio: 0.5,
    enabled: true,
    notes: { text: 'start' },
    tags: ['a', 'b'],
    profile: { first: 'Ada', last: 'Lovelace' },
    seen: [],
    result: null,
  })
  const program = `let calls = 0
      const found = await search('quickjs')
      calls++
      const user = await fetchUser(7)
      calls++
      let total = 0
      for (const hit of found.hits) {
        total = await sum(total, hit.id)
        calls++
      }
      const started = await now()
      calls++
      counter = counter + total
      notes.text = notes.text + ' -> searched'
      tags.push('c')
      seen.push(user.name)
      for (let i = 0; i < 3; i++) {
        const more = await fetchUser(i)
        seen.push(more.name)
        calls++
      }
      const saved = await store('summary', { total, seen })
      calls++
      if (saved.size > 0 && enabled) {
        result = { total, users: seen.length }
      }
      const check = await sum(counter, limit)
      calls++
      const label = name + ':' + check
      const when = started + Math.round(ratio * 10)
      profile.full = profile.first + ' ' + profile.last
      console.log('done', label, when)
      const summary = {
        label,
        when,
        calls,
        result,
      }
      return summary`
  return { program, contextObject }
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
  'host → isolate applySync (small function)': {
    ...ivmApi((ivm) => {
      const context = new ivm.Isolate().createContextSync()
      const add = context.evalSync('(a, b) => a + b', { reference: true })
      return perCallSync(50000, () => add.applySync(undefined, [1, 2]))
    }),
    'quickjs-emscripten': (QuickJS) => {
      const context = QuickJS.newContext()
      const add = context.unwrapResult(context.evalCode('(a, b) => a + b'))
      return perCallSync(50000, () => {
        const a = context.newNumber(1)
        const b = context.newNumber(2)
        const r = context.unwrapResult(context.callFunction(add, context.undefined, a, b))
        context.getNumber(r)
        r.dispose()
        a.dispose()
        b.dispose()
      })
    },
  },
  'isolate → host sync callback': {
    ...ivmApi((ivm) => {
      const context = new ivm.Isolate().createContextSync()
      context.global.setSync('cb', (x) => x + 1)
      const n = 20000
      const loop = context.evalSync(`(function () { let s = 0; for (let i = 0; i < ${n}; i++) s = cb(s); return s })`, { reference: true })
      loop.applySync(undefined, [])
      const start = process.hrtime.bigint()
      loop.applySync(undefined, [])
      return { value: Number(process.hrtime.bigint() - start) / 1e3 / n, unit: 'µs' }
    }),
    'quickjs-emscripten': (QuickJS) => {
      const context = QuickJS.newContext()
      const cb = context.newFunction('cb', (x) => context.newNumber(context.getNumber(x) + 1))
      context.setProp(context.global, 'cb', cb)
      cb.dispose()
      const n = 20000
      const code = `(() => { let s = 0; for (let i = 0; i < ${n}; i++) s = cb(s); return s })()`
      context.unwrapResult(context.evalCode(code)).dispose()
      const start = process.hrtime.bigint()
      context.unwrapResult(context.evalCode(code)).dispose()
      return { value: Number(process.hrtime.bigint() - start) / 1e3 / n, unit: 'µs' }
    },
  },
  'copy in, 0.5 MB mixed object (MB/s)': {
    ...ivmApi((ivm) => {
      const value = mixedObject()
      const bytes = JSON.stringify(value).length / 1e6
      const context = new ivm.Isolate().createContextSync()
      const set = context.evalSync('(v) => { globalThis.v = v }', { reference: true })
      const r = perCallSync(30, () => set.applySync(undefined, [new ivm.ExternalCopy(value).copyInto()]))
      return { value: bytes / (r.value / 1e6), unit: 'MB/s' }
    }),
  },
  'copy out, 0.5 MB mixed object (MB/s)': {
    ...ivmApi((ivm) => {
      const value = mixedObject()
      const bytes = JSON.stringify(value).length / 1e6
      const context = new ivm.Isolate().createContextSync()
      context.global.setSync('v', value, { copy: true })
      const r = perCallSync(30, () => context.evalSync('v', { copy: true }))
      return { value: bytes / (r.value / 1e6), unit: 'MB/s' }
    }),
  },
  'LLMz-shaped execution (5 tools, 10 variables, 10 tool calls, copy-back)': {
    ...ivmApi(async (ivm) => {
      const { runLLMz } = require('./llmz-driver')
      const { program, contextObject } = llmzWorkload()
      // Check once that the workload really succeeds, then time it.
      const first = await runLLMz(ivm, program, contextObject(), { timeout: 60000 })
      if (!first.success || first.return_value?.calls !== 10) throw new Error(`LLMz workload failed: ${JSON.stringify(first)}`)
      return perCall(200, () => runLLMz(ivm, program, contextObject(), { timeout: 60000 }), AGENT_WARMUP)
    }),
  },
  // The same step with a program never seen before (a unique comment defeats the code cache):
  // what a new model-written program costs.
  'LLMz-shaped execution, a new program each time': {
    ...ivmApi(async (ivm) => {
      const { runLLMz } = require('./llmz-driver')
      const { program, contextObject } = llmzWorkload()
      let n = 0
      return perCall(200, () => runLLMz(ivm, `${program}\n      // run ${process.pid}-${n++}`, contextObject(), { timeout: 60000 }), AGENT_WARMUP)
    }),
  },
  // The same step as an agent takes it: its model thinks between two executions (here 2 ms, a
  // fraction of any model call). Each execution is timed alone; the median of 200.
  'LLMz-shaped execution, with a pause between runs (median of single runs)': {
    ...ivmApi(async (ivm) => {
      const { runLLMz } = require('./llmz-driver')
      const { program, contextObject } = llmzWorkload()
      return medianSpaced(200, 2, () => runLLMz(ivm, program, contextObject(), { timeout: 60000 }), AGENT_WARMUP)
    }),
  },
  "await eval('1+1')": {
    ...ivmApi(async (ivm) => {
      const context = new ivm.Isolate().createContextSync()
      return perCall(10000, () => context.eval('1+1'))
    }),
  },
}

module.exports = { scenarios, perCall, perCallSync, mixedObject, llmzWorkload, AGENT_WARMUP }
