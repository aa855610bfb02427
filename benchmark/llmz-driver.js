'use strict'
// A driver that uses the API step by step the way LLMz's Node driver does (see LLMZ.md): globals
// from a context object, tools through applySyncPromise, accessors, sealed objects, a console
// hook, a variable tracker, an async-generator program run with { timeout, copy, promise }, and
// the copy-back of variables after the run. It takes the implementation as a parameter, so the
// same flow runs on isolated-vm and on this package.

/**
 * The outcome of one execution: { success, return_value?, error?: { name, message, lines },
 * variables, logs, tracked }. Options: { timeout?, onStarted?(isolate, context) } — onStarted is
 * called once the run is under way (used to abort with dispose()).
 */

const CONSOLE = '__llmz_console'

/** Wraps an LLM-written body the way LLMz does: an async generator driven by a loop. */
function wrapProgram(body) {
  return `new Promise(async (resolve, reject) => {
  const console = ${CONSOLE}
  async function* __program() {
${body}
  }
  try {
    const __gen = __program()
    let __result
    while (true) {
      const { value, done } = await __gen.next(__result)
      if (done) { resolve(value); break }
      __result = value
    }
  } catch (err) {
    reject(err)
  }
})`
}

/** isolated-vm's stack frames inside named functions, as LLMz parses them. */
function frameLines(stack) {
  return [...String(stack ?? '').matchAll(/\(<isolated-vm>:(\d+):(\d+)/g)].map((m) => Number(m[1]))
}

async function runLLMz(ivm, program, contextObject, options = {}) {
  const isolate = new ivm.Isolate({ memoryLimit: 128 })
  const context = await isolate.createContext()
  const logs = []
  const tracked = []
  const tracking = []
  try {
    const global = context.global
    await global.set('global', global.derefInto())

    const exposeFunction = async (path, f) => {
      await context.evalClosure(
        `${path} = (...args) => $0.applySyncPromise(null, args, {arguments: {copy: true}});`,
        [async (...args) => new ivm.ExternalCopy(await f(...args)).copyInto()],
        { arguments: { reference: true } },
      )
    }
    const exposeAccessor = async (target, prop, descriptor) => {
      await context.evalClosure(
        `Object.defineProperty(${target}, '${prop}', { get: () => $0.applySync(null, [], {arguments:{copy:true}}), set: (v) => $1.applySync(null, [v], {arguments:{copy:true}}) })`,
        [() => descriptor.get?.(), (v) => descriptor.set?.(v)],
        { arguments: { reference: true } },
      )
    }

    for (const key of Object.keys(contextObject)) {
      const descriptor = Object.getOwnPropertyDescriptor(contextObject, key)
      if (descriptor.get || descriptor.set) {
        await exposeAccessor('global', key, descriptor)
        continue
      }
      const value = contextObject[key]
      if (typeof value === 'function') {
        await exposeFunction(`global['${key}']`, value)
      } else if (value && typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Array.isArray(value))) {
        await global.set(key, Array.isArray(value) ? new Array(value.length) : {}, { copy: true })
        for (const prop of Object.keys(value)) {
          const inner = Object.getOwnPropertyDescriptor(value, prop)
          if (inner.get || inner.set) await exposeAccessor(`global['${key}']`, prop, inner)
          else if (typeof inner.value === 'function') await exposeFunction(`global['${key}']['${prop}']`, inner.value)
          else await context.evalClosure(`global['${key}']['${prop}'] = $0;`, [inner.value], { arguments: { copy: true } })
        }
        if (Object.isSealed(value)) await context.evalClosure(`Object.seal(global['${key}'])`, [])
        else if (!Object.isExtensible(value)) await context.evalClosure(`Object.preventExtensions(global['${key}'])`, [])
        tracking.push(key)
      } else {
        await global.set(key, value, { copy: true })
        tracking.push(key)
      }
    }

    await context.evalClosure(`global['${CONSOLE}'] = {}`, [])
    const Console = await global.get(CONSOLE, { reference: true })
    await Console.set('log', (...args) => {
      logs.push(args)
    })

    await context.evalClosure(
      `global['__track'] = (name, value) => {
        try { $0.applySync(null, [name, value], { arguments: { copy: true } }) }
        catch (err) { $0.applySync(null, [name, '[[non-primitive]]'], { arguments: { copy: true } }) }
      }`,
      [(name, value) => tracked.push([name, value])],
      { arguments: { reference: true } },
    )

    const script = await isolate.compileScript(wrapProgram(program), { filename: '<isolated-vm>', columnOffset: 0, lineOffset: 0 })
    const running = script.run(context, { timeout: options.timeout ?? 60000, copy: true, promise: true })
    options.onStarted?.(isolate, context)
    let outcome
    try {
      outcome = { success: true, return_value: await running }
    } catch (err) {
      outcome = { success: false, error: { name: err?.name, message: err?.message, lines: frameLines(err?.stack) } }
    }

    const variables = {}
    if (!isolate.isDisposed) {
      for (const key of tracking) {
        const value = contextObject[key]
        if (value && typeof value === 'object') {
          const props = context.evalClosureSync(`return Object.getOwnPropertyNames(global['${key}'])`, [], { result: { copy: true } })
          const copy = {}
          for (const prop of props) {
            if (prop === 'length' && Array.isArray(value)) continue
            if (typeof value[prop] === 'function') continue // tools are not variables
            copy[prop] = context.evalClosureSync(`return global['${key}']['${prop}']`, [], { result: { copy: true } })
          }
          variables[key] = copy
        } else {
          variables[key] = global.getSync(key, { copy: true })
        }
      }
    }
    return { ...outcome, variables, logs, tracked }
  } finally {
    try {
      isolate.dispose()
    } catch {}
    try {
      context.release()
    } catch {}
  }
}

module.exports = { runLLMz, wrapProgram }
