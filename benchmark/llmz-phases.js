'use strict'
// Where an LLMz-shaped execution spends its time: every API call the driver makes, in order,
// with its median and mean over many executions.
//   node benchmark/llmz-phases.js [isolated-quickjs|isolated-vm] [executions] [pause ms between runs]
// (isolated-vm needs `node --no-node-snapshot` and `npm run bench` once, to install it.)
const { load } = require('./implementations')
const { runLLMz } = require('./llmz-driver')
const { llmzWorkload, AGENT_WARMUP } = require('./scenarios')

const TIMED = {
  Isolate: ['createContext', 'compileScript', 'dispose'],
  Context: ['evalClosure', 'evalClosureSync'],
  Reference: ['set', 'get', 'getSync'],
  Script: ['run'],
}

/** Wraps the timed methods so that each call appends [name, ns] to `calls`. */
function instrument(ivm, calls) {
  for (const [className, methods] of Object.entries(TIMED)) {
    const proto = ivm[className].prototype
    for (const method of methods) {
      const original = proto[method]
      const label = `${className}.${method}`
      proto[method] = function (...args) {
        const start = process.hrtime.bigint()
        const record = () => calls.push([label, Number(process.hrtime.bigint() - start)])
        const result = original.apply(this, args)
        if (!(result instanceof Promise)) {
          record()
          return result
        }
        return result.then(
          (value) => (record(), value),
          (error) => {
            record()
            throw error
          },
        )
      }
    }
  }
}

async function main() {
  const name = process.argv[2] ?? 'isolated-quickjs'
  const executions = Number(process.argv[3] ?? 1000)
  const pauseMs = Number(process.argv[4] ?? 0)
  const pause = () => (pauseMs > 0 ? new Promise((resolve) => setTimeout(resolve, pauseMs)) : undefined)
  const ivm = await load(name)
  const calls = []
  instrument(ivm, calls)
  const { program, contextObject } = llmzWorkload()
  for (let i = 0; i < AGENT_WARMUP; i++) await runLLMz(ivm, program, contextObject(), {})
  const samples = []
  for (let i = 0; i < executions; i++) {
    await pause()
    calls.length = 0
    await runLLMz(ivm, program, contextObject(), {})
    calls.forEach(([label, ns], index) => (samples[index] ??= [label, []])[1].push(ns / 1e3))
  }
  const fmt = (x) => x.toFixed(1).padStart(7)
  let total = 0
  for (const [label, xs] of samples) {
    xs.sort((a, b) => a - b)
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length
    total += mean
    console.log(`${label.padEnd(26)} median ${fmt(xs[xs.length >> 1])} µs  mean ${fmt(mean)} µs`)
  }
  console.log(`${'all timed calls'.padEnd(26)} mean ${fmt(total)} µs per execution`)
}

main()
