'use strict'
// `npm run bench`: every scenario, in fresh processes, implementations alternating, several
// rounds; prints medians, min/max, and each implementation's ratio to isolated-quickjs.
// Peers (isolated-vm 5.0.4, quickjs-emscripten) are installed into benchmark/peers on first use.
const { execFileSync } = require('node:child_process')
const { join } = require('node:path')
const { ensure } = require('../scripts/peers')
const { names } = require('./implementations')
const { scenarios } = require('./scenarios')

const ROUNDS = Number(process.env.BENCH_ROUNDS || 7)
const only = process.argv[2]

function measure(name, scenario) {
  const out = execFileSync(process.execPath, ['--expose-gc', '--no-node-snapshot', join(__dirname, 'child.js'), name, scenario], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(out.trim().split('\n').pop())
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2))

function main() {
  ensure('bench')
  const rows = []
  for (const [scenario, bodies] of Object.entries(scenarios)) {
    if (only && !scenario.includes(only)) continue
    const impls = names.filter((n) => bodies[n])
    const samples = Object.fromEntries(impls.map((n) => [n, []]))
    let unit = ''
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of round % 2 ? [...impls].reverse() : impls) {
        const r = measure(name, scenario)
        samples[name].push(r.value)
        unit = r.unit
      }
    }
    const base = median(samples['isolated-quickjs'])
    process.stdout.write(`\n${scenario} (${unit}, ${ROUNDS} processes each)\n`)
    for (const name of impls) {
      const xs = samples[name]
      const m = median(xs)
      const ratio = name === 'isolated-quickjs' ? '' : `  ${fmt(m / base)}× ours`
      process.stdout.write(`  ${name.padEnd(20)} median ${fmt(m).padStart(8)}  min ${fmt(Math.min(...xs)).padStart(8)}  max ${fmt(Math.max(...xs)).padStart(8)}${ratio}\n`)
      rows.push({ scenario, name, unit, median: m, min: Math.min(...xs), max: Math.max(...xs) })
    }
  }
  if (process.env.BENCH_JSON) require('node:fs').writeFileSync(process.env.BENCH_JSON, JSON.stringify(rows, null, 2))
}

main()
