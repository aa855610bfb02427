'use strict'
// Scripts that fail the way programs written by an LLM agent (LLMz) fail. Each `code` is a
// complete script, compiled as `<isolated-vm>` and run by compare.js in isolated-vm and in
// isolated-quickjs; the error each one throws is compared (name, message, frames, positions).
//
// Optional fields:
//   async: true  the completion value is a promise, so only `run({ promise: true })` is
//                meaningful (runSync would only fail to copy the promise).
//
// Globals the harness installs in every context, the way LLMz installs an agent's tools
// (`$0.applySyncPromise` on an async host function):
//   getWeather(city)  resolves to { city, temp: 21, unit: 'C' }
//   failingTool()     rejects with the host's `new Error('My Tool')`
//   __llmz_yield(v)   the loop's yield handler (resolves to undefined)

/**
 * Wraps a program body exactly as LLMz's isolated-vm driver does: an async generator `__fn__`
 * driven by a loop inside `new Promise(async (resolve) => { ... })`, after `"use strict"`.
 * The body's first line is line 5 of the script.
 */
function llmz(body) {
  return `
"use strict";
new Promise(async (resolve) => {

async function* __fn__() {
${body}
}

const fn = __fn__();
do {
  const { value, done } = await fn.next();
  if (done) {
    const ret = await value;
    return resolve(ret);
  }
  await __llmz_yield(value);
} while(true);

})`.trim()
}

const snippets = [
  // ---- plain functions ----------------------------------------------------------------------
  {
    name: 'named-function',
    code: `function foo() { throw new TypeError("bad") }
foo()`,
  },
  {
    name: 'named-function-nested-calls',
    code: `function validateOrder(order) {
  if (order.quantity <= 0) {
    throw new Error('Quantity must be positive, got ' + order.quantity)
  }
  return order
}
function processOrders(orders) {
  return orders.map((o) => validateOrder(o))
}
const orders = [{ id: 1, quantity: 2 }, { id: 2, quantity: 0 }]
processOrders(orders)`,
  },
  {
    name: 'arrow-function',
    code: `const prices = { apple: 1.2, pear: 0.8 }
const computeTotal = (items) => {
  let total = 0
  for (const item of items) {
    if (!(item in prices)) throw new Error(\`Unknown item: \${item}\`)
    total += prices[item]
  }
  return total
}
const result = computeTotal(['apple', 'banana'])`,
  },
  {
    name: 'class-method',
    code: `class ShoppingCart {
  constructor() { this.items = [] }
  add(item) { this.items.push(item); return this }
  checkout() {
    if (this.items.length < 3) {
      throw new Error('Cart needs at least 3 items, has ' + this.items.length)
    }
  }
}
const cart = new ShoppingCart()
cart.add('a').add('b')
cart.checkout()`,
  },
  {
    name: 'static-method',
    code: `class Temperature {
  static fromFahrenheit(value) {
    if (typeof value !== 'number') throw new TypeError('Expected a number, got ' + typeof value)
    return (value - 32) * 5 / 9
  }
}
const celsius = Temperature.fromFahrenheit('75F')`,
  },
  {
    name: 'static-method-regexp-literal',
    code: `class DateUtils {
  static parseIsoDate(text) {
    const match = /^(\\d{4})-(\\d{2})-(\\d{2})$/.exec(text)
    if (!match) throw new RangeError('Invalid ISO date: ' + text)
    return new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]))
  }
}
const when = DateUtils.parseIsoDate('2024/01/05')`,
  },
  {
    name: 'getter',
    code: `class Account {
  constructor(owner) { this.owner = owner; this._balance = undefined }
  get balance() {
    if (this._balance === undefined) throw new Error('Balance not loaded for ' + this.owner)
    return this._balance
  }
}
const account = new Account('alice')
const message = 'Your balance is ' + account.balance`,
  },
  {
    name: 'object-literal-method',
    code: `const api = {
  baseUrl: 'https://example.com',
  buildUrl(path) {
    if (!path.startsWith('/')) throw new Error('Path must start with a slash: ' + path)
    return this.baseUrl + path
  },
}
const url = api.buildUrl('users')`,
  },
  {
    name: 'class-constructor',
    code: `class Invoice {
  constructor(amount, currency) {
    if (typeof currency !== 'string') {
      throw new TypeError('currency is required for amount ' + amount)
    }
    this.amount = amount
  }
}
const invoices = []
invoices.push(new Invoice(100, 'USD'))
invoices.push(new Invoice(250))`,
  },
  {
    name: 'function-constructor',
    code: `function Point(x, y) {
  if (typeof x !== 'number' || typeof y !== 'number') throw new TypeError('Point needs numbers')
  this.x = x
  this.y = y
}
const origin = new Point(0, 0)
const broken = new Point(1, 'two')`,
  },
  {
    name: 'class-called-without-new',
    code: `class Customer {
  constructor(name) { this.name = name }
}
const customers = ['ann', 'bob'].map((name) => Customer(name))`,
  },

  // ---- async ----------------------------------------------------------------------------------
  {
    name: 'async-before-await',
    async: true,
    code: `async function loadProfile(userId) {
  if (!userId) {
    throw new Error('userId is required')
  }
  const data = await Promise.resolve({ id: userId })
  return data
}
loadProfile()`,
  },
  {
    name: 'async-after-await',
    async: true,
    code: `async function loadProfile(userId) {
  const data = await Promise.resolve({ id: userId, profile: null })
  return data.profile.displayName
}
loadProfile(42)`,
  },
  {
    name: 'async-chain',
    async: true,
    code: `async function fetchRecord(id) {
  await null
  throw new Error('Record ' + id + ' not found')
}
async function loadAll(ids) {
  const out = []
  for (const id of ids) out.push(await fetchRecord(id))
  return out
}
async function main() {
  return await loadAll([7, 8])
}
main()`,
  },
  {
    name: 'async-host-tool-result',
    async: true,
    code: `async function report(city) {
  const weather = await getWeather(city)
  return weather.forecast.tomorrow.high
}
report('Paris')`,
  },
  {
    name: 'promise-then-callback',
    async: true,
    code: `const pending = Promise.resolve({ items: [1, 2, 3] })
pending
  .then((res) => res.items.length)
  .then((count) => {
    if (count < 5) throw new Error('Expected at least 5 items, got ' + count)
    return count
  })`,
  },
  {
    name: 'promise-all-rejection',
    async: true,
    code: `async function check(n) {
  await null
  if (n % 2) throw new RangeError('odd value ' + n)
  return n
}
Promise.all([2, 4, 5].map(check))`,
  },

  // ---- generators -----------------------------------------------------------------------------
  {
    name: 'generator',
    code: `function* pages(total) {
  for (let page = 1; page <= total; page++) {
    if (page === 3) throw new Error('Page ' + page + ' failed to load')
    yield page
  }
}
const loaded = []
for (const page of pages(5)) loaded.push(page)`,
  },
  {
    name: 'async-generator-loop',
    async: true,
    code: `async function* stream(rows) {
  for (const row of rows) {
    await null
    yield row.value.toUpperCase()
  }
}
async function collect() {
  const out = []
  for await (const v of stream([{ value: 'a' }, { value: null }])) out.push(v)
  return out
}
collect()`,
  },

  // ---- closures and callbacks -----------------------------------------------------------------
  {
    name: 'nested-closures',
    code: `function makeCounter(limit) {
  let count = 0
  return function increment(step) {
    return function apply() {
      count += step
      if (count > limit) throw new RangeError('Counter exceeded limit ' + limit)
      return count
    }
  }
}
const inc = makeCounter(3)
inc(2)()
inc(2)()`,
  },
  {
    name: 'map-callback',
    code: `const users = [{ name: 'Ann', address: { city: 'Oslo' } }, { name: 'Bob' }]
const cities = users.map((user) => user.address.city)`,
  },
  {
    name: 'foreach-callback',
    code: `const totals = {}
const rows = [['a', 1], ['b', 2], ['c']]
rows.forEach(function addRow(row) {
  const [key, amount] = row
  if (amount === undefined) throw new Error('Missing amount for row ' + key)
  totals[key] = amount
})`,
  },
  {
    name: 'reduce-callback',
    code: `const lineItems = [{ price: 3, qty: 2 }, { price: 5 }, { price: 1, qty: 4 }]
const total = lineItems.reduce((sum, item) => {
  if (item.qty === undefined) throw new TypeError('qty missing for price ' + item.price)
  return sum + item.price * item.qty
}, 0)`,
  },
  {
    name: 'sort-comparator',
    code: `const records = [{ date: '2024-01-02' }, { date: null }, { date: '2023-05-01' }]
const sorted = records.slice().sort((a, b) => a.date.localeCompare(b.date))`,
  },

  // ---- built-in errors ------------------------------------------------------------------------
  {
    name: 'json-parse',
    code: `const raw = "{ name: 'Ann', age: 31 }"
const parsed = JSON.parse(raw)`,
  },
  {
    name: 'json-parse-in-function',
    code: `function parseResponse(body) {
  const data = JSON.parse(body)
  return data.items
}
const items = parseResponse('{"items": [1, 2,]}')`,
  },
  {
    name: 'call-undefined-method',
    code: `const client = { send(msg) { return msg } }
function notify(user) {
  return client.sendEmail(user.email, 'Welcome!')
}
notify({ email: 'a@b.c' })`,
  },
  {
    name: 'call-undefined-variable-function',
    code: `const helpers = {}
const format = helpers.formatCurrency
const label = 'Total: ' + format(12.5)`,
  },
  {
    name: 'property-of-null',
    code: `function getCity(user) {
  return user.address.city
}
const user = { name: 'Ann', address: null }
const city = getCity(user)`,
  },
  {
    name: 'property-of-undefined',
    code: `const data = { items: [{ name: 'a' }, { name: 'b' }] }
const third = data.items[2].name`,
  },
  {
    name: 'method-on-undefined',
    code: `function shout(text) {
  return text.toUpperCase() + '!'
}
shout(undefined)`,
  },
  {
    name: 'reference-error',
    code: `function summarize(list) {
  const count = list.length
  return count + ' items, total ' + totl
}
summarize([1, 2, 3])`,
  },
  {
    name: 'reference-error-top-level',
    code: `const a = 1
const b = a + missingVariable`,
  },
  {
    name: 'const-assignment',
    code: `const limit = 10
function raise() {
  limit = 20
}
raise()`,
  },
  {
    name: 'destructure-null',
    code: `function pair(input) {
  const [first, second] = input
  return first + second
}
pair(null)`,
  },
  {
    name: 'bigint-mix',
    code: `const big = 10n
const mixed = big + 1`,
  },
  {
    name: 'range-invalid-array-length',
    code: `function makeSlots(n) {
  return new Array(n).fill(0)
}
makeSlots(-1)`,
  },
  {
    name: 'range-tofixed',
    code: `const amount = 12.3456
const formatted = amount.toFixed(101)`,
  },
  {
    name: 'template-literal',
    code: `const order = { id: 7, customer: undefined }
const line = \`Order #\${order.id} for \${order.customer.name} is ready\``,
  },

  // ---- try/catch and custom errors ------------------------------------------------------------
  {
    name: 'try-catch-rethrow',
    code: `function risky() {
  throw new Error('disk full')
}
try {
  risky()
} catch (err) {
  throw err
}`,
  },
  {
    name: 'try-catch-wrap',
    code: `function readConfig() {
  return JSON.parse('not json')
}
function start() {
  try {
    return readConfig()
  } catch (err) {
    throw new Error('Could not start: ' + err.message)
  }
}
start()`,
  },
  {
    name: 'custom-subclass-name',
    code: `class ValidationError extends Error {
  constructor(field, message) {
    super(message)
    this.name = 'ValidationError'
    this.field = field
  }
}
function validate(form) {
  if (!form.email.includes('@')) throw new ValidationError('email', 'Invalid email: ' + form.email)
}
validate({ email: 'nobody' })`,
  },
  {
    name: 'custom-subclass-no-name',
    code: `class HttpError extends Error {}
function request(status) {
  if (status >= 400) throw new HttpError('Request failed with status ' + status)
}
request(404)`,
  },
  {
    name: 'error-created-elsewhere',
    code: `function makeError(code) {
  return new Error('Failure code ' + code)
}
function run() {
  const err = makeError(17)
  throw err
}
run()`,
  },
  {
    name: 'uri-error',
    code: `const encoded = '%E0%A4%A'
const decoded = decodeURIComponent(encoded)`,
  },

  // ---- eval, recursion, non-errors ------------------------------------------------------------
  {
    name: 'eval-code',
    code: `function evaluate(expr) {
  return eval(expr)
}
evaluate('const x = 1;\\nx.y.z')`,
  },
  {
    name: 'eval-defined-function',
    code: `function build() {
  eval('function inner() { throw new Error("from eval") }\\ninner()')
}
build()`,
  },
  {
    name: 'stack-overflow',
    code: `function walk(node) {
  return walk({ parent: node }) + 1
}
walk({})`,
  },
  {
    name: 'throw-string',
    code: `function fail() {
  throw 'something went wrong'
}
fail()`,
  },
  {
    name: 'throw-number',
    code: `throw 404`,
  },
  {
    name: 'throw-object',
    code: `function fail() {
  throw { code: 'E_FAIL', detail: 'not an Error' }
}
fail()`,
  },
  {
    name: 'syntax-error-compile',
    code: `const total = 1
const broken = ;`,
  },

  // ---- long programs, error deep inside -------------------------------------------------------
  {
    name: 'long-program-line-21',
    code: `const inventory = [
  { sku: 'A-1', name: 'Widget', stock: 12, price: 2.5 },
  { sku: 'B-2', name: 'Gadget', stock: 0, price: 10 },
  { sku: 'C-3', name: 'Doohickey', stock: 4, price: 7.25 },
]

function findItem(sku) {
  return inventory.find((item) => item.sku === sku)
}

function restock(sku, amount) {
  const item = findItem(sku)
  item.stock += amount
  return item.stock
}

function report() {
  const lines = []
  for (const item of inventory) {
    lines.push(item.name + ': ' + item.stock)
    const valuation = item.stock * item.price; const supplierName = item.supplier.name
  }
  return lines.join('\\n')
}

restock('A-1', 3)
report()`,
  },
  {
    name: 'long-program-line-38',
    code: `// Agent program: summarize tickets and escalate the urgent ones
const tickets = [
  { id: 101, priority: 'high', tags: ['billing'], owner: { name: 'Ann' } },
  { id: 102, priority: 'low', tags: [], owner: { name: 'Bob' } },
  { id: 103, priority: 'high', tags: ['outage'], owner: null },
]

const counts = { high: 0, low: 0 }
for (const t of tickets) {
  counts[t.priority] += 1
}

function describe(ticket) {
  const tagText = ticket.tags.length ? ticket.tags.join(', ') : 'none'
  return '#' + ticket.id + ' (' + ticket.priority + ') tags: ' + tagText
}

const descriptions = tickets.map(describe)

class Escalator {
  constructor(threshold) {
    this.threshold = threshold
    this.sent = []
  }

  notify(ticket) {
    const who = ticket.owner
    this.sent.push({ id: ticket.id, to: who.name })
  }

  run(list) {
    for (const ticket of list) {
      if (ticket.priority === 'high') this.notify(ticket)
    }
    return this.sent.length
  }
}

const escalator = new Escalator(2); const escalated = escalator.run(tickets)
const summary = descriptions.join('\\n') + '\\nescalated: ' + escalated`,
  },

  // ---- LLMz's own wrapping (async generator driven by a loop in a promise executor) -----------
  {
    name: 'llmz-sync-error-in-body',
    async: true,
    code: llmz(`const user = { name: 'Ann', plan: null }
const planName = user.plan.name
return { action: 'done', value: planName }`),
  },
  {
    name: 'llmz-error-after-tool-await',
    async: true,
    code: llmz(`const weather = await getWeather('Paris')
const message = 'It is ' + weather.temp + ' degrees'
const tomorrow = weather.forecast.tomorrow
return { action: 'done', value: message }`),
  },
  {
    name: 'llmz-host-tool-throws',
    async: true,
    code: llmz(`const before = 1
const out = await failingTool()
return { action: 'done', value: out }`),
  },
  {
    name: 'llmz-helper-in-map',
    async: true,
    code: llmz(`function formatPrice(product) {
  return product.currency.symbol + product.price.toFixed(2)
}
const products = [{ price: 3, currency: { symbol: '$' } }, { price: 4 }]
const labels = products.map((product) => formatPrice(product))
return { action: 'done', value: labels }`),
  },
  {
    name: 'llmz-throw-new-error',
    async: true,
    code: llmz(`const results = await getWeather('Oslo')
if (results.temp > 20) {
  throw new Error('Too warm in ' + results.city + ': ' + results.temp + results.unit)
}
return { action: 'done' }`),
  },
  {
    name: 'llmz-custom-error',
    async: true,
    code: llmz(`class ToolInputError extends Error {
  constructor(message) {
    super(message)
    this.name = 'ToolInputError'
  }
}
const input = { query: '' }
if (!input.query) throw new ToolInputError('query must not be empty')
return { action: 'done' }`),
  },
  {
    name: 'llmz-after-yield',
    async: true,
    code: llmz(`yield { type: 'Message', props: { text: 'Looking it up...' } }
const items = await getWeather('Rome')
const first = items.list[0]
return { action: 'done', value: first }`),
  },
  {
    name: 'llmz-json-parse',
    async: true,
    code: llmz(`const raw = '{"ok": true, "items": [1, 2, 3'
const data = JSON.parse(raw)
return { action: 'done', value: data }`),
  },
  {
    name: 'llmz-async-helper-chain',
    async: true,
    code: llmz(`async function loadCustomer(id) {
  const w = await getWeather('Lima')
  return { id, orders: undefined }
}
async function countOrders(id) {
  const customer = await loadCustomer(id)
  return customer.orders.length
}
const n = await countOrders(5)
return { action: 'done', value: n }`),
  },
  {
    name: 'llmz-reference-error',
    async: true,
    code: llmz(`const total = 10
const withTax = total * taxRate
return { action: 'done', value: withTax }`),
  },
  {
    name: 'llmz-regexp-literal',
    async: true,
    code: llmz(`const text = 'Order 1234 shipped'
const orderId = text.match(/Order (\\d+)/)[1]
const eta = text.match(/ETA (\\d+)/)[1]
return { action: 'done', value: orderId + eta }`),
  },
  {
    name: 'llmz-success',
    async: true,
    code: llmz(`const w = await getWeather('Nice')
return { action: 'done', value: w.temp }`),
  },
]

module.exports = snippets
module.exports.llmz = llmz
