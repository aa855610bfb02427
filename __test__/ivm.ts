// The implementation under test: this package, or real isolated-vm with IVM_IMPL=isolated-vm
// (npm run test:parity), so that every spec is checked against both.
import { createRequire } from 'node:module'
import { join } from 'node:path'

const require = createRequire(import.meta.url)
export const IMPL = process.env.IVM_IMPL === 'isolated-vm' ? 'isolated-vm' : 'isolated-quickjs'
export const onQuickJS = IMPL === 'isolated-quickjs'

const ivm = onQuickJS ? require('..') : require(join(__dirname, '..', '.parity', 'node_modules', 'isolated-vm'))
export default ivm

/**
 * A result where QuickJS cannot match V8: the value isolated-vm gives and the one we give.
 * Every use is listed in the README under "Differences from isolated-vm".
 */
export function differs<T>(isolatedVm: T, quickjs: T): T {
  return onQuickJS ? quickjs : isolatedVm
}

/** A fresh isolate with one context, for specs. */
export function setup() {
  const isolate = new ivm.Isolate()
  const context = isolate.createContextSync()
  return { isolate, context }
}

/** Catches what `f` throws (or returns, if it does not throw, as a failure marker). */
export function thrown(f: () => unknown): any {
  try {
    f()
  } catch (e) {
    return e
  }
  throw new Error('expected an exception')
}

export async function rejected(p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error('expected a rejection')
}
