// ES module resolve hook of the isolated-vm switch, run by Node on its loader-hooks thread.
// `lib/switch.js` registers it with the mode it read from USE_QUICKJS; `plan()` there says what to
// do, exactly as for the require hook.
import theSwitch from './switch.js'

const { SPECIFIER, ENTRY_URL, plan, noticeFallback } = theSwitch

let mode = 'auto'
let printed = new Int32Array(new SharedArrayBuffer(4))

export function initialize(data) {
  mode = data.mode
  printed = data.printed
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier !== SPECIFIER) return nextResolve(specifier, context)
  const how = plan(mode)
  if (how === 'default') return nextResolve(specifier, context)
  if (how === 'default-else-entry') {
    try {
      return await nextResolve(specifier, context)
    } catch (error) {
      if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error
    }
    noticeFallback(printed)
  }
  return { url: ENTRY_URL, format: 'commonjs', shortCircuit: true }
}
