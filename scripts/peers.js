'use strict'
// Installs the reference implementations into side folders (never into the package's own
// dependencies): isolated-vm 5.0.4 for parity tests and benchmarks, quickjs-emscripten for
// benchmarks. isolated-vm builds from source against the local Node headers.
const { execFileSync } = require('node:child_process')
const { existsSync, mkdirSync, writeFileSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')

const FOLDERS = {
  parity: { dir: join(root, '.parity'), deps: { 'isolated-vm': '5.0.4' } },
  bench: { dir: join(root, 'benchmark', 'peers'), deps: { 'isolated-vm': '5.0.4', 'quickjs-emscripten': '0.31.0' } },
}

function ensure(kind) {
  const { dir, deps } = FOLDERS[kind]
  const missing = Object.keys(deps).filter((name) => !existsSync(join(dir, 'node_modules', name, 'package.json')) ||
    (name === 'isolated-vm' && !existsSync(join(dir, 'node_modules', name, 'out', 'isolated_vm.node'))))
  if (missing.length === 0) return dir
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `isolated-quickjs-${kind}-peers`, private: true, dependencies: deps, allowScripts: { 'isolated-vm': true } }, null, 2),
  )
  process.stderr.write(`installing ${missing.join(', ')} into ${dir} (isolated-vm builds from source, about a minute)\n`)
  const nodedir = process.env.npm_config_nodedir || (existsSync('/usr/include/node/node.h') ? '/usr' : undefined)
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock'], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...(nodedir ? { npm_config_nodedir: nodedir } : {}) },
  })
  if (!existsSync(join(dir, 'node_modules', 'isolated-vm', 'out', 'isolated_vm.node'))) {
    throw new Error(`isolated-vm did not build in ${dir}; see the npm output above`)
  }
  return dir
}

module.exports = { ensure }

if (require.main === module) ensure(process.argv[2] || 'parity')
