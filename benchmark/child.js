'use strict'
// One measurement in a fresh process: `node child.js <implementation> <scenario>`.
const { load } = require('./implementations')
const { scenarios } = require('./scenarios')

async function main() {
  const [name, scenario] = process.argv.slice(2)
  const lib = await load(name)
  const result = await scenarios[scenario][name](lib)
  process.stdout.write(JSON.stringify({ value: result.value, unit: result.unit }) + '\n')
  process.exit(0)
}

main().catch((error) => {
  process.stderr.write(String(error?.stack ?? error) + '\n')
  process.exit(1)
})
