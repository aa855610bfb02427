// A test written for isolated-vm; with examples/vitest.config.mjs and USE_QUICKJS=true it runs on
// isolated-quickjs without a change.
import { expect, it } from 'vitest'
import ivm from 'isolated-vm'

it('runs code in an isolate and calls back into the host', async () => {
  const isolate = new ivm.Isolate({ memoryLimit: 32 })
  const context = await isolate.createContext()
  await context.global.set('double', (x: number) => x * 2)
  expect(await context.eval('double(21)')).toBe(42)
  isolate.dispose()
})
