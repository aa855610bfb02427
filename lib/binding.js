'use strict'
// Loads the native addon: a local build first (development), then the prebuilt package for
// this platform. When neither fits, the error says which platform was looked for and what to do.
const { join } = require('node:path')
const { existsSync } = require('node:fs')

function platformTriple() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const musl = (() => {
      try {
        return !process.report.getReport().header.glibcVersionRuntime
      } catch {
        return false
      }
    })()
    return `linux-${arch}-${musl ? 'musl' : 'gnu'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function load() {
  const triple = platformTriple()
  const local = join(__dirname, '..', `isolated-quickjs.${triple}.node`)
  if (existsSync(local)) return require(local)
  const pkg = `isolated-quickjs-${triple}`
  try {
    return require(pkg)
  } catch (cause) {
    const error = new Error(
      `isolated-quickjs has no native binary for this platform (${triple}). ` +
        `Install the optional dependency "${pkg}" (npm installs it automatically unless optional ` +
        `dependencies are disabled), or build from source with "npm run build" (needs Rust).`,
    )
    error.cause = cause
    throw error
  }
}

module.exports = load()
