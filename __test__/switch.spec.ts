// The isolated-vm switch (register.js / register.mjs / lib/switch.js), the vitest recipe
// (examples/vitest.config.mjs) and the dependency alias, each checked in child `node` processes
// run in throwaway projects under the OS temp folder.
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { useWorkspace } from './workspace'

const require = createRequire(import.meta.url)
const ROOT = resolve(__dirname, '..')
const ENTRY = join(ROOT, 'index.js')
const IVM = join(ROOT, '.parity', 'node_modules', 'isolated-vm')
const theSwitch = require('../lib/switch.js')

const FALLBACK = theSwitch.FALLBACK_NOTICE
const INVALID = (value: string) =>
  `isolated-quickjs: ignoring USE_QUICKJS=${JSON.stringify(value)} (accepted values: true, 1, false, 0); treating it as unset`

// Child processes take seconds on a loaded machine; a few at a time keeps them from starving.
const SLOW = { timeout: 300_000 }
const limit = limiter(Math.max(2, Math.min(6, availableParallelism())))

const workspace = useWorkspace('iq-switch-')

// ---------------------------------------------------------------------------------------------
// Child processes

interface Outcome {
  /** `quickjs`, `isolated-vm`, `not found` (the loader's own error) or what went wrong. */
  got: string
  /** The loader's error, when `got` is `not found`. */
  error?: { code: string; message: string; fromSwitch: boolean }
  /** What the loaded module computed: 42 when it works. */
  runs?: unknown
  /** stderr, one entry per non-empty line. */
  stderr: string[]
}

/** Runs `node <args>` in `cwd` with USE_QUICKJS = `setting` (undefined: unset) and nothing else. */
function node(cwd: string, args: string[], setting?: string, extraEnv: Record<string, string> = {}) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...extraEnv }
  if (setting !== undefined) env.USE_QUICKJS = setting
  return limit(
    () =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile(process.execPath, args, { cwd, env, timeout: 240_000 }, (error, stdout, stderr) => {
          done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
        })
      }),
  )
}

/** A child's RESULT line, or the not-found error Node printed when a static import failed. */
async function probe(cwd: string, args: string[], setting?: string): Promise<Outcome> {
  const { stdout, stderr } = await node(cwd, ['--no-node-snapshot', ...args], setting)
  const lines = stderr.split('\n').filter((line) => line.trim() !== '')
  const result = stdout.split('\n').find((line) => line.startsWith('RESULT '))
  if (result) return { ...JSON.parse(result.slice(7)), stderr: lines }
  const uncaught = /^Error \[(ERR_MODULE_NOT_FOUND)\]: (.*)$/m.exec(stderr)
  if (!uncaught) return { got: `no result (stdout: ${stdout}, stderr: ${stderr})`, stderr: lines }
  const error = { code: uncaught[1], message: uncaught[2], fromSwitch: /lib[\\/]switch/.test(stderr) }
  return { got: 'not found', error, stderr: lines.filter((line) => line.startsWith('isolated-quickjs:')) }
}

/** Runs at most `n` tasks at once. */
function limiter(n: number) {
  let running = 0
  const queue: Array<() => void> = []
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((go) => queue.push(go))
    running++
    try {
      return await task()
    } finally {
      running--
      queue.shift()?.()
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Projects: `with` has isolated-vm installed, `without` does not; both have isolated-quickjs
// (a symlink to this repository, so that `require('/…/index.js')` is the very module it loads).

const PROBE = `'use strict'
// Reports which implementation 'isolated-vm' turned out to be, and that it runs code.
const { join, sep } = require('node:path')
const ENTRY = ${JSON.stringify(ENTRY)}

function which(mod) {
  const loaded = Object.values(require.cache).find((m) => m.exports === mod)
  if (!loaded) return 'unknown (not in require.cache)'
  if (loaded.filename === ENTRY) {
    const ours = require(ENTRY) === mod && require(join(ENTRY, '..', 'lib', 'isolate.js')).Isolate === mod.Isolate
    return ours ? 'quickjs' : 'unknown (a second copy of isolated-quickjs)'
  }
  if (loaded.filename.endsWith(sep + join('isolated-vm', 'isolated-vm.js'))) return 'isolated-vm'
  return 'unknown: ' + loaded.filename
}

function runs(mod) {
  const isolate = new mod.Isolate({ memoryLimit: 8 })
  try {
    return isolate.createContextSync().evalSync('6 * 7')
  } finally {
    isolate.dispose()
  }
}

exports.report = (mod) => console.log('RESULT ' + JSON.stringify({ got: which(mod), runs: runs(mod) }))
exports.reportError = (error) => {
  const message = String(error.message).split('\\n')[0]
  const fromSwitch = /lib[\\\\/]switch/.test(error.stack)
  console.log('RESULT ' + JSON.stringify({ got: 'not found', error: { code: error.code, message, fromSwitch } }))
}
`

/** The three ways code asks for isolated-vm. Each file is an entry point of its own. */
const STYLES = {
  'require()': {
    file: 'require.cjs',
    source: `const probe = require('./probe.cjs')
let ivm
try { ivm = require('isolated-vm') } catch (error) { return probe.reportError(error) }
probe.report(ivm)
`,
  },
  'static import': {
    file: 'import.mjs',
    source: `import ivm from 'isolated-vm'
import probe from './probe.cjs'
probe.report(ivm)
`,
  },
  'import()': {
    file: 'dynamic.cjs',
    source: `const probe = require('./probe.cjs')
import('isolated-vm').then((m) => probe.report(m.default), probe.reportError)
`,
  },
} as const
type Style = keyof typeof STYLES

/** Entry points for the extra checks below. */
const EXTRAS = {
  'first-thing.cjs': `require('isolated-quickjs/register')
require('./probe.cjs').report(require('isolated-vm'))
`,
  'first-thing.mjs': `import 'isolated-quickjs/register'
import probe from './probe.cjs'
const { default: ivm } = await import('isolated-vm')
probe.report(ivm)
`,
  'same-graph.mjs': `import 'isolated-quickjs/register'
import ivm from 'isolated-vm'
import probe from './probe.cjs'
probe.report(ivm)
`,
  'named.mjs': `import { Isolate, Reference, ExternalCopy } from 'isolated-vm'
import ivm from 'isolated-vm'
import probe from './probe.cjs'
if (Isolate !== ivm.Isolate || Reference !== ivm.Reference || ExternalCopy !== ivm.ExternalCopy) throw new Error('named exports differ')
probe.report(ivm)
`,
  'both.cjs': `const probe = require('./probe.cjs')
const first = require('isolated-vm')
import('isolated-vm').then((m) => probe.report(m.default === first ? first : null))
`,
  'resolve.cjs': `console.log('RESULT ' + JSON.stringify({ got: require.resolve('isolated-vm') }))
`,
  'worker.cjs': `const { Worker } = require('node:worker_threads')
const code = "require(" + JSON.stringify(require.resolve('./probe.cjs')) + ").report(require('isolated-vm'))"
new Worker(code, { eval: true })
`,
}

function project(name: string, withIsolatedVm: boolean): string {
  const dir = join(workspace.folder(), name)
  mkdirSync(join(dir, 'node_modules'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `switch-${name}`, private: true }))
  symlinkSync(ROOT, join(dir, 'node_modules', 'isolated-quickjs'), 'dir')
  if (withIsolatedVm) symlinkSync(IVM, join(dir, 'node_modules', 'isolated-vm'), 'dir')
  writeFileSync(join(dir, 'probe.cjs'), PROBE)
  for (const { file, source } of Object.values(STYLES)) writeFileSync(join(dir, file), source)
  for (const [file, source] of Object.entries(EXTRAS)) writeFileSync(join(dir, file), source)
  return dir
}

const projects = { with: '', without: '' }
beforeAll(() => {
  projects.with = project('with', true)
  projects.without = project('without', false)
  // Nothing above the temp folder may provide isolated-vm, or "not installed" would be a lie.
  expect(() => require.resolve('isolated-vm', { paths: [projects.without] })).toThrow(/Cannot find module/)
})

// ---------------------------------------------------------------------------------------------
// The table

const LOADERS = {
  '--require': ['--require', 'isolated-quickjs/register'],
  '--import': ['--import', 'isolated-quickjs/register'],
} as const

type Row = [setting: string | undefined, installed: boolean, got: 'quickjs' | 'isolated-vm' | 'not found', stderr: string[]]

/** USE_QUICKJS × isolated-vm installed → what `isolated-vm` is, and the lines on stderr. */
const TABLE: Row[] = [
  ['true', true, 'quickjs', []],
  ['true', false, 'quickjs', []],
  ['1', true, 'quickjs', []],
  ['1', false, 'quickjs', []],
  ['false', true, 'isolated-vm', []],
  ['false', false, 'not found', []],
  ['0', true, 'isolated-vm', []],
  ['0', false, 'not found', []],
  [undefined, true, 'isolated-vm', []],
  [undefined, false, 'quickjs', [FALLBACK]],
  ['yes', true, 'isolated-vm', [INVALID('yes')]],
  ['yes', false, 'quickjs', [INVALID('yes'), FALLBACK]],
]

const NOT_FOUND: Record<Style, { code: string; message: RegExp }> = {
  'require()': { code: 'MODULE_NOT_FOUND', message: /^Cannot find module 'isolated-vm'$/ },
  'static import': { code: 'ERR_MODULE_NOT_FOUND', message: /^Cannot find package 'isolated-vm' imported from / },
  'import()': { code: 'ERR_MODULE_NOT_FOUND', message: /^Cannot find package 'isolated-vm' imported from / },
}

describe.skipIf(process.env.IVM_IMPL === 'isolated-vm')('the switch', () => {
  describe('lib/switch.js rules', () => {
    it('reads USE_QUICKJS', () => {
      expect(theSwitch.readSetting('true')).toEqual({ mode: 'quickjs' })
      expect(theSwitch.readSetting('1')).toEqual({ mode: 'quickjs' })
      expect(theSwitch.readSetting('false')).toEqual({ mode: 'isolated-vm' })
      expect(theSwitch.readSetting('0')).toEqual({ mode: 'isolated-vm' })
      expect(theSwitch.readSetting(undefined)).toEqual({ mode: 'auto' })
      expect(theSwitch.readSetting('')).toEqual({ mode: 'auto' })
      expect(theSwitch.readSetting('TRUE')).toEqual({ mode: 'auto', warning: INVALID('TRUE') })
      expect(theSwitch.readSetting('toString')).toEqual({ mode: 'auto', warning: INVALID('toString') })
    })

    it('plans each mode', () => {
      expect(theSwitch.plan('quickjs')).toBe('entry')
      expect(theSwitch.plan('isolated-vm')).toBe('default')
      expect(theSwitch.plan('auto')).toBe('default-else-entry')
      expect(theSwitch.ENTRY).toBe(ENTRY)
    })
  })

  for (const flags of Object.values(LOADERS)) {
    describe(`node ${flags.join(' ')}`, () => {
      for (const [setting, installed, got, stderr] of TABLE) {
        for (const style of Object.keys(STYLES) as Style[]) {
          const name = `USE_QUICKJS=${setting ?? '(unset)'}, isolated-vm ${installed ? 'installed' : 'absent'}, ${style} → ${got}`
          it.concurrent(name, SLOW, async () => {
            const cwd = installed ? projects.with : projects.without
            const outcome = await probe(cwd, [...flags, STYLES[style].file], setting)
            expect(outcome.got).toBe(got)
            expect(outcome.stderr).toEqual(stderr)
            if (got === 'not found') {
              expect(outcome.error).toMatchObject({ code: NOT_FOUND[style].code, fromSwitch: false })
              expect(outcome.error!.message).toMatch(NOT_FOUND[style].message)
              // The very error Node gives with no switch at all.
              const plain = await probe(cwd, [STYLES[style].file], setting)
              expect(plain.error).toEqual(outcome.error)
            } else {
              expect(outcome.runs).toBe(42)
            }
          })
        }
      }
    })
  }

  describe('details', () => {
    it.concurrent('require() of the register module, first thing in a CommonJS entry', SLOW, async () => {
      expect(await probe(projects.with, ['first-thing.cjs'], 'true')).toEqual({ got: 'quickjs', runs: 42, stderr: [] })
    })

    it.concurrent('import of the register module, first thing in an ES module, then import()', SLOW, async () => {
      expect(await probe(projects.with, ['first-thing.mjs'], 'true')).toEqual({ got: 'quickjs', runs: 42, stderr: [] })
    })

    it.concurrent('not covered: a static import in the same module graph as the register import', SLOW, async () => {
      // ES modules resolve every static import before running any of them, so the switch is
      // installed too late for its own graph; use --import, or import() after registering.
      expect(await probe(projects.with, ['same-graph.mjs'], 'true')).toMatchObject({ got: 'isolated-vm' })
    })

    it.concurrent('named imports from isolated-vm work when it is this package', SLOW, async () => {
      for (const flags of Object.values(LOADERS)) {
        expect(await probe(projects.without, [...flags, 'named.mjs'], 'true')).toEqual({ got: 'quickjs', runs: 42, stderr: [] })
      }
    })

    it.concurrent('prints the fallback notice once per process, whichever loader asks first', SLOW, async () => {
      for (const flags of Object.values(LOADERS)) {
        expect(await probe(projects.without, [...flags, 'both.cjs'])).toEqual({ got: 'quickjs', runs: 42, stderr: [FALLBACK] })
      }
    })

    it.concurrent('require.resolve() gives the file that require() loads', SLOW, async () => {
      expect(await probe(projects.with, ['--require', 'isolated-quickjs/register', 'resolve.cjs'], 'true')).toMatchObject({ got: ENTRY })
      const real = await probe(projects.with, ['--require', 'isolated-quickjs/register', 'resolve.cjs'], 'false')
      expect(real.got).toBe(join(IVM, 'isolated-vm.js'))
    })

    it.concurrent('worker threads get the switch with --require (Node runs preloads in each thread)', SLOW, async () => {
      expect(await probe(projects.with, [...LOADERS['--require'], 'worker.cjs'], 'true')).toEqual({ got: 'quickjs', runs: 42, stderr: [] })
    })

    const node20 = process.versions.node.startsWith('20.')
    it.runIf(node20).concurrent('not covered: worker threads under --import alone (Node 20 runs it in the main thread only)', SLOW, async () => {
      expect(await probe(projects.with, [...LOADERS['--import'], 'worker.cjs'], 'true')).toMatchObject({ got: 'isolated-vm' })
    })
  })
})

// ---------------------------------------------------------------------------------------------
// Installing the package as users get it: `npm pack` of this package and of its platform binary
// package (npm/linux-x64-gnu with the built addon copied in; the main package's "files" leave the
// .node out, as published napi packages do).

const BINARY = 'isolated-quickjs.linux-x64-gnu.node'
const onLinuxX64 = process.platform === 'linux' && process.arch === 'x64'

interface Tarballs {
  main: string
  platform: string
  files: string[]
}

let tarballs: Promise<Tarballs> | undefined

function npm(cwd: string, args: string[]) {
  return limit(
    () =>
      new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
        execFile('npm', args, { cwd, timeout: 240_000 }, (error, stdout, stderr) => {
          done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
        })
      }),
  )
}

function packOnce(): Promise<Tarballs> {
  tarballs ??= (async () => {
    const dir = join(workspace.folder(), 'tarballs')
    const platform = join(dir, 'platform')
    mkdirSync(platform, { recursive: true })
    copyFileSync(join(ROOT, 'npm', 'linux-x64-gnu', 'package.json'), join(platform, 'package.json'))
    copyFileSync(join(ROOT, BINARY), join(platform, BINARY))
    const main = await npm(ROOT, ['pack', '--json', '--pack-destination', dir])
    const plat = await npm(platform, ['pack', '--json', '--pack-destination', dir])
    if (main.code !== 0 || plat.code !== 0) throw new Error(`npm pack failed: ${main.stderr}${plat.stderr}`)
    const [info] = JSON.parse(main.stdout)
    const [platInfo] = JSON.parse(plat.stdout)
    return {
      main: join(dir, info.filename),
      platform: join(dir, platInfo.filename),
      files: info.files.map((f: { path: string }) => f.path),
    }
  })()
  return tarballs
}

/** A fresh project with the given npm install specs installed from the tarballs, offline. */
async function installed(name: string, specs: (t: Tarballs) => string[]): Promise<string> {
  const t = await packOnce()
  const dir = join(workspace.folder(), name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true }))
  const result = await npm(dir, ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs(t)])
  if (result.code !== 0) throw new Error(`npm install failed: ${result.stderr}`)
  return dir
}

describe.skipIf(process.env.IVM_IMPL === 'isolated-vm' || !onLinuxX64)('as an installed package', () => {
  it.concurrent('the tarball ships the switch and the typings (the addon comes from the platform package)', SLOW, async () => {
    const { files } = await packOnce()
    for (const file of ['index.js', 'index.d.ts', 'register.js', 'register.mjs', 'lib/switch.js', 'lib/switch_hooks.mjs']) {
      expect(files).toContain(file)
    }
    expect(files).not.toContain(BINARY)
  })

  it.concurrent('dependency alias: "isolated-vm" installed from this package gives our API', SLOW, async () => {
    // Stands in for `"isolated-vm": "npm:isolated-quickjs@<version>"`, which needs the registry.
    const dir = await installed('alias', (t) => [`isolated-vm@file:${t.main}`, `isolated-quickjs-linux-x64-gnu@file:${t.platform}`])
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    expect(manifest.dependencies['isolated-vm']).toMatch(/^file:.*isolated-quickjs-.*\.tgz$/)
    const check = `
      const ivm = require('isolated-vm')
      const { join } = require('node:path')
      const home = join(require.resolve('isolated-vm'), '..')
      const isolate = new ivm.Isolate({ memoryLimit: 8 })
      console.log('RESULT ' + JSON.stringify({
        got: require('isolated-vm/package.json').name,
        home,
        ownIsolate: require(join(home, 'lib', 'isolate.js')).Isolate === ivm.Isolate,
        runs: isolate.createContextSync().evalSync('6 * 7'),
      }))
    `
    const esm = `import ivm from 'isolated-vm'; import { Isolate } from 'isolated-vm'
      console.log('RESULT ' + JSON.stringify({ got: Isolate === ivm.Isolate ? 'same' : 'different', runs: new Isolate().createContextSync().evalSync('6 * 7') }))`
    expect(await probe(dir, ['-e', check])).toEqual({
      got: 'isolated-quickjs',
      home: join(dir, 'node_modules', 'isolated-vm'),
      ownIsolate: true,
      runs: 42,
      stderr: [],
    })
    expect(await probe(dir, ['--input-type=module', '-e', esm])).toEqual({ got: 'same', runs: 42, stderr: [] })
  })

  describe('vitest with examples/vitest.config.mjs', () => {
    // A test file that imports isolated-vm, an ES module dependency and a CommonJS dependency that
    // import / require it, and the example spec itself.
    const PROBE_SPEC = `import { it } from 'vitest'
import { writeFileSync } from 'node:fs'
import ivm from 'isolated-vm'
import ours from 'isolated-quickjs'
import fromEsm from 'esm-dep'
import fromCjs from 'cjs-dep'

const which = (mod: unknown) => (mod === ours ? 'quickjs' : 'isolated-vm')
it('reports', () => {
  const isolate = new ivm.Isolate({ memoryLimit: 8 })
  const runs = isolate.createContextSync().evalSync('6 * 7')
  writeFileSync(process.env.RESULT_FILE!, JSON.stringify({ spec: which(ivm), esm: which(fromEsm), cjs: which(fromCjs), runs }))
})
`

    async function vitestProject(name: string, withIsolatedVm: boolean): Promise<string> {
      const dir = await installed(name, (t) => [`isolated-quickjs@file:${t.main}`, `isolated-quickjs-linux-x64-gnu@file:${t.platform}`])
      const modules = join(dir, 'node_modules')
      symlinkSync(join(ROOT, 'node_modules', 'vitest'), join(modules, 'vitest'), 'dir')
      if (withIsolatedVm) symlinkSync(IVM, join(modules, 'isolated-vm'), 'dir')
      mkdirSync(join(modules, 'cjs-dep'))
      writeFileSync(join(modules, 'cjs-dep', 'package.json'), JSON.stringify({ name: 'cjs-dep', main: 'index.js' }))
      writeFileSync(join(modules, 'cjs-dep', 'index.js'), "module.exports = require('isolated-vm')\n")
      mkdirSync(join(modules, 'esm-dep'))
      writeFileSync(join(modules, 'esm-dep', 'package.json'), JSON.stringify({ name: 'esm-dep', type: 'module', exports: './index.js' }))
      writeFileSync(join(modules, 'esm-dep', 'index.js'), "import ivm from 'isolated-vm'\nexport default ivm\n")
      copyFileSync(join(ROOT, 'examples', 'vitest.config.mjs'), join(dir, 'vitest.config.mjs'))
      copyFileSync(join(ROOT, 'examples', 'isolated-vm.spec.ts'), join(dir, 'isolated-vm.spec.ts'))
      writeFileSync(join(dir, 'probe.spec.ts'), PROBE_SPEC)
      return dir
    }

    /** Runs `vitest run` in a fresh project; `result` is what the probe spec saw. */
    async function runVitest(withIsolatedVm: boolean, setting?: string) {
      const dir = await vitestProject(`vitest-${withIsolatedVm ? 'with' : 'without'}-${setting ?? 'unset'}`, withIsolatedVm)
      const vitest = join(dir, 'node_modules', 'vitest', 'vitest.mjs')
      const resultFile = join(dir, 'result.json')
      const run = await node(dir, [vitest, 'run'], setting, {
        NODE_OPTIONS: '--no-node-snapshot',
        RESULT_FILE: resultFile,
        CI: '1',
        NO_COLOR: '1',
      })
      let result: unknown
      try {
        result = JSON.parse(readFileSync(resultFile, 'utf8'))
      } catch {
        result = undefined
      }
      return { code: run.code, output: run.stdout + run.stderr, result }
    }

    const cases: Array<[string | undefined, boolean, string]> = [
      ['true', true, 'quickjs'],
      ['true', false, 'quickjs'],
      ['false', true, 'isolated-vm'],
      [undefined, true, 'isolated-vm'],
      [undefined, false, 'quickjs'],
    ]
    for (const [setting, withIsolatedVm, impl] of cases) {
      const name = `USE_QUICKJS=${setting ?? '(unset)'}, isolated-vm ${withIsolatedVm ? 'installed' : 'absent'} → ${impl} everywhere`
      it.concurrent(name, SLOW, async () => {
        const { code, output, result } = await runVitest(withIsolatedVm, setting)
        expect(result, output).toEqual({ spec: impl, esm: impl, cjs: impl, runs: 42 })
        expect(code, output).toBe(0)
        expect(output).toMatch(/Tests\s+2 passed/)
      })
    }

    it.concurrent('USE_QUICKJS=false, isolated-vm absent → the usual "Cannot find" failure', SLOW, async () => {
      const { code, output, result } = await runVitest(false, 'false')
      expect(code).not.toBe(0)
      expect(result).toBeUndefined()
      expect(output).toMatch(/Cannot find (package|module) 'isolated-vm'/)
    })
  })
})
