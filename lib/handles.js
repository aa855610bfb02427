'use strict'
// Releasing what a garbage-collected Context, Script or Module held inside its isolate.
const registry = new FinalizationRegistry(({ isolate, kind, id }) => {
  if (isolate.isDisposed) return
  if (kind === 'context') isolate.releaseContext(id)
  else if (kind === 'module') isolate.releaseModule(id)
  else isolate.releaseScript(id)
})

/** Ties the native slot `id` of `owner` (a Context, Script or Module) to its lifetime. */
function track(owner, nativeIsolate, kind, id) {
  const token = {}
  registry.register(owner, { isolate: nativeIsolate, kind, id }, token)
  return token
}

function untrack(token) {
  registry.unregister(token)
}

module.exports = { track, untrack }
