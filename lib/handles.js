'use strict'
// Releasing what a garbage-collected Context or Script held inside its isolate.
const registry = new FinalizationRegistry(({ isolate, kind, id }) => {
  if (isolate.isDisposed) return
  if (kind === 'context') isolate.releaseContext(id)
  else isolate.releaseScript(id)
})

/** Ties the native slot `id` of `owner` (a Context or Script) to its lifetime. */
function track(owner, nativeIsolate, kind, id) {
  const token = {}
  registry.register(owner, { isolate: nativeIsolate, kind, id }, token)
  return token
}

function untrack(token) {
  registry.unregister(token)
}

module.exports = { track, untrack }
