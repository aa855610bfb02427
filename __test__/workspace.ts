// A throwaway folder for specs that build small projects (the switch, the typings), with real
// isolated-vm installed beside the repo first (.parity/), since those projects link to it.
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'

const require = createRequire(import.meta.url)

/** Registers the hooks; `folder()` is the workspace once the suite has started. */
export function useWorkspace(prefix: string): { folder: () => string } {
  let temp = ''
  beforeAll(() => {
    require('../scripts/peers').ensure('parity')
    temp = mkdtempSync(join(tmpdir(), prefix))
  }, 600_000)
  afterAll(() => {
    if (temp) rmSync(temp, { recursive: true, force: true })
  })
  return { folder: () => temp }
}
