'use strict'
// The implementations compared by the benchmark, loaded in a child process by name.
const { join } = require('node:path')

const peers = join(__dirname, 'peers', 'node_modules')

async function load(name) {
  if (name === 'isolated-quickjs') return require('..')
  if (name === 'isolated-vm') return require(join(peers, 'isolated-vm'))
  if (name === 'quickjs-emscripten') {
    const { getQuickJS } = require(join(peers, 'quickjs-emscripten'))
    return getQuickJS()
  }
  throw new Error(`unknown implementation ${name}`)
}

module.exports = { load, names: ['isolated-quickjs', 'isolated-vm', 'quickjs-emscripten'] }
