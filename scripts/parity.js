'use strict'
// Runs the same vitest specs against real isolated-vm 5.0.4 (installed into .parity/ on first
// use). Specs read IVM_IMPL to pick the implementation; see __test__/ivm.ts.
const { execFileSync } = require('node:child_process')
const { ensure } = require('./peers')

ensure('parity')
execFileSync('npx', ['vitest', 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, IVM_IMPL: 'isolated-vm', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --no-node-snapshot`.trim() },
})
