'use strict'
// Installs the package the way a user gets it: `npm pack` the main package and this platform's
// binary package (npm/linux-x64-gnu, with the built addon copied in), install both tarballs into
// a fresh project outside the repository with no Rust toolchain on PATH, and run the smoke test
// there. Exits non-zero on any failure. Needs a built addon (`npm run build`); linux-x64 glibc only.
const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const triple = 'linux-x64-gnu'
const binaryName = `isolated-quickjs.${triple}.node`
const platformDir = path.join(root, 'npm', triple)

function step(message) {
  console.log(`\n== ${message}`)
}

function fail(message) {
  console.error(`pack test FAILED: ${message}`)
  process.exit(1)
}

/** `npm pack` in `dir` into `destination`; returns the tarball path and its file list. */
function pack(dir, destination) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const [info] = JSON.parse(out)
  const files = info.files.map((f) => f.path).sort()
  console.log(`${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked`)
  for (const file of files) console.log(`  ${file}`)
  return { tarball: path.join(destination, info.filename), files }
}

/** PATH without the folders that hold a Rust toolchain. */
function pathWithoutRust() {
  const tools = ['cargo', 'rustc', 'rustup']
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir && !tools.some((tool) => fs.existsSync(path.join(dir, tool))))
    .join(path.delimiter)
}

function main() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    fail(`this test packs the ${triple} binary and runs on linux-x64 only`)
  }
  const built = path.join(root, binaryName)
  if (!fs.existsSync(built)) fail(`${binaryName} is missing: run "npm run build" first`)

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'isolated-quickjs-pack-'))
  const tarballs = path.join(work, 'tarballs')
  const app = path.join(work, 'app')
  fs.mkdirSync(tarballs)
  fs.mkdirSync(app)
  const copied = path.join(platformDir, binaryName)
  const hadBinary = fs.existsSync(copied)
  let ok = false
  try {
    step(`packing into ${tarballs}`)
    fs.copyFileSync(built, copied)
    const main = pack(root, tarballs)
    const platform = pack(platformDir, tarballs)
    for (const needed of ['package.json', 'index.js', 'index.d.ts', 'lib/binding.js']) {
      if (!main.files.includes(needed)) fail(`the main tarball lacks ${needed}`)
    }
    const stray = main.files.filter((f) => f.endsWith('.node') || f.startsWith('src/') || f.startsWith('__test__/'))
    if (stray.length) fail(`the main tarball carries ${stray.join(', ')}`)
    if (!platform.files.includes(binaryName)) fail(`the platform tarball lacks ${binaryName}`)

    step(`installing both tarballs into ${app} with no Rust toolchain on PATH`)
    const env = { ...process.env, PATH: pathWithoutRust() }
    delete env.CARGO_HOME
    delete env.RUSTUP_HOME
    delete env.npm_config_prefix
    const which = spawnSync('which', ['cargo'], { env, encoding: 'utf8' })
    console.log(`which cargo -> exit ${which.status}${which.stdout.trim() ? `: ${which.stdout.trim()}` : ' (not found)'}`)
    if (which.status === 0) fail('cargo is still on PATH')
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify(
        {
          name: 'pack-test-app',
          private: true,
          dependencies: {
            'isolated-quickjs': `file:${main.tarball}`,
            [`isolated-quickjs-${triple}`]: `file:${platform.tarball}`,
          },
        },
        null,
        2,
      ),
    )
    const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: app,
      env,
      encoding: 'utf8',
    })
    process.stdout.write(install.stdout)
    process.stderr.write(install.stderr)
    if (install.status !== 0) fail(`npm install exited with ${install.status}`)
    const installedMain = path.join(app, 'node_modules', 'isolated-quickjs')
    const strayBinaries = fs.readdirSync(installedMain).filter((f) => f.endsWith('.node'))
    if (strayBinaries.length) fail(`the installed main package has ${strayBinaries.join(', ')}`)

    step('smoke test in the fresh project')
    fs.copyFileSync(path.join(__dirname, 'smoke.js'), path.join(app, 'smoke.js'))
    const smoke = spawnSync(process.execPath, ['smoke.js', 'isolated-quickjs'], { cwd: app, env, encoding: 'utf8' })
    process.stdout.write(smoke.stdout)
    process.stderr.write(smoke.stderr)
    if (smoke.status !== 0) fail(`the smoke test exited with ${smoke.status ?? smoke.signal}`)

    // Which files answered: the package from node_modules, and the addon from the platform package.
    const probe = spawnSync(
      process.execPath,
      [
        '-e',
        `const ivm = require('isolated-quickjs');
         const addon = process.report.getReport().sharedObjects.find((f) => f.endsWith('.node'));
         const meta = require('isolated-quickjs/package.json');
         console.log('resolved  ' + require.resolve('isolated-quickjs'));
         console.log('addon     ' + addon);
         console.log('version   ' + meta.version + ', exports Isolate: ' + (typeof ivm.Isolate));`,
      ],
      { cwd: app, env, encoding: 'utf8' },
    )
    process.stdout.write(probe.stdout)
    process.stderr.write(probe.stderr)
    if (probe.status !== 0) fail('the probe failed')
    const expectedAddon = path.join(app, 'node_modules', `isolated-quickjs-${triple}`, binaryName)
    if (!probe.stdout.includes(`addon     ${fs.realpathSync(expectedAddon)}`)) {
      fail(`the addon was not loaded from ${expectedAddon}`)
    }
    const esm = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import ivm from 'isolated-quickjs';
         const isolate = new ivm.Isolate();
         const result = await isolate.createContextSync().eval('6 * 7');
         isolate.dispose();
         console.log('esm import: eval -> ' + result);`,
      ],
      { cwd: app, env, encoding: 'utf8' },
    )
    process.stdout.write(esm.stdout)
    process.stderr.write(esm.stderr)
    if (esm.status !== 0 || !esm.stdout.includes('-> 42')) fail('the ESM import failed')
    ok = true
  } finally {
    if (!hadBinary) fs.rmSync(copied, { force: true })
    if (ok || process.env.KEEP_PACK_TEST !== '1') fs.rmSync(work, { recursive: true, force: true })
    else console.log(`kept ${work}`)
  }
  console.log('\npack test: 1 passed, 0 failed')
}

main()
