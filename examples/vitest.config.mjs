// Vitest with isolated-quickjs standing in for isolated-vm, chosen by USE_QUICKJS like the switch
// (`isolated-quickjs/register`): `true`/`1` always, `false`/`0` never, unset when isolated-vm is not
// installed. Copy this file to your project as vitest.config.mjs (or merge the two settings below).
import { createRequire } from 'node:module'
import { defineConfig } from 'vitest/config'

const setting = process.env.USE_QUICKJS
const useQuickjs =
  setting === 'true' || setting === '1' || (setting !== 'false' && setting !== '0' && !installed('isolated-vm'))

function installed(name) {
  try {
    createRequire(import.meta.url).resolve(name)
    return true
  } catch {
    return false
  }
}

export default defineConfig({
  resolve: {
    // Imports that Vite resolves: your test files and the dependencies it inlines.
    alias: useQuickjs ? [{ find: /^isolated-vm$/, replacement: 'isolated-quickjs' }] : [],
  },
  test: {
    // Dependencies Vitest leaves to Node (everything in node_modules by default): the switch hooks
    // Node's require() and import in each test worker. `server.deps.inline` would cover only ES
    // module dependencies, because inlined CommonJS code still calls Node's own require().
    setupFiles: ['isolated-quickjs/register'],
  },
})
