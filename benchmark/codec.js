'use strict'
// Host-side codec costs: Node's `node:v8` against lib/v8_format.js, both directions, for a small
// tool result and for the 0.5 MB mixed object of the copy benchmarks. Decides which codec
// lib/transfer.js uses for which direction. Run: node benchmark/codec.js
const v8 = require('node:v8')
const js = require('../lib/v8_format')
const { mixedObject } = require('./scenarios')

function perCall(name, n, op) {
  for (let i = 0; i < Math.min(n, 2000); i++) op()
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) op()
  console.log(`${name.padEnd(34)} ${(Number(process.hrtime.bigint() - start) / 1e3 / n).toFixed(2)} µs`)
}

const small = { query: 'q', hits: [{ id: 1, title: 'first' }, { id: 2, title: 'second' }] }
const big = mixedObject()
for (const [label, value, n] of [['small', small, 20000], ['0.5 MB mixed', big, 60]]) {
  const bytes = v8.serialize(value)
  perCall(`v8.serialize ${label}`, n, () => v8.serialize(value))
  perCall(`v8_format.serialize ${label}`, n, () => js.serialize(value))
  perCall(`v8.deserialize ${label}`, n, () => v8.deserialize(bytes))
  perCall(`v8_format.deserialize ${label}`, n, () => js.deserialize(bytes))
}
