import { describe, expect, it } from 'vitest'
import ivm from './ivm'

describe('nested sync calls', () => {
  it('lets a host callback called from runSync call back into the same isolate', () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    context.global.setSync('reenter', (n: number) => context.evalSync(`${n} * 2`))
    expect(context.evalSync('reenter(21)')).toBe(42)
    isolate.dispose()
  })

  it('nests host -> isolate -> host fifty levels deep', () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    context.global.setSync('down', (n: number): number => (n === 0 ? 0 : 1 + context.evalSync(`down(${n - 1})`)))
    expect(context.evalSync('down(50)')).toBe(50)
    isolate.dispose()
  })

  it('nests across two isolates', () => {
    const a = new ivm.Isolate()
    const b = new ivm.Isolate()
    const ca = a.createContextSync()
    const cb = b.createContextSync()
    ca.global.setSync('toB', (n: number): number => (n === 0 ? 0 : 1 + cb.evalSync(`toA(${n - 1})`)))
    cb.global.setSync('toA', (n: number): number => (n === 0 ? 0 : 1 + ca.evalSync(`toB(${n - 1})`)))
    expect(ca.evalSync('toB(20)')).toBe(20)
    a.dispose()
    b.dispose()
  })

  it('serves a sync callback while the isolate runs asynchronously', async () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    context.global.setSync('hostAdd', (a: number, b: number) => a + b)
    context.global.setSync('peek', () => context.evalSync('globalThis.counter'))
    expect(await context.eval('globalThis.counter = 7; hostAdd(1, 2) + peek()')).toBe(10)
    isolate.dispose()
  })

  it('mixes sync and async calls without deadlock', async () => {
    const isolate = new ivm.Isolate()
    const context = isolate.createContextSync()
    context.global.setSync('sync', (n: number) => context.evalSync(`${n} + 1`))
    const pending: Promise<unknown>[] = []
    for (let i = 0; i < 50; i++) {
      pending.push(context.eval(`sync(${i})`))
      expect(context.evalSync(`sync(${i})`)).toBe(i + 1)
    }
    expect(await Promise.all(pending)).toEqual([...Array(50).keys()].map((i) => i + 1))
    isolate.dispose()
  })
})
