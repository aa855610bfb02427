// LLMz's flow, step by step (LLMZ.md), pinned with inline snapshots that hold for isolated-vm
// 5.0.4 and for this package alike (npm run test:parity runs this file against isolated-vm).
import { describe, expect, it } from 'vitest'
import ivm from './ivm'
// The driver is shared with the benchmark's LLMz-shaped execution.
import { runLLMz } from '../benchmark/llmz-driver.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('the LLMz flow', () => {
  it('runs a program with tools, variables, accessors, the console and the tracker', async () => {
    let temperature = 20
    const user = { name: 'Ada', tags: ['x'], greet: async (who: string) => `hello ${who}` }
    const outcome = await runLLMz(
      ivm,
      `const weather = await getWeather('Paris')
      console.log('weather is', weather)
      __track('weather', weather)
      __track('fn', () => 1)
      const greeting = await user.greet(user.name)
      user.tags.push('y')
      settings.temperature = settings.temperature + 5
      count = count + 1
      return { weather, greeting, temperature: settings.temperature, count }`,
      {
        getWeather: async (city: string) => {
          await sleep(5)
          return { city, sky: 'clear', degrees: 21 }
        },
        user,
        settings: {
          get temperature() {
            return temperature
          },
          set temperature(v: number) {
            temperature = v
          },
        },
        count: 41,
      },
    )
    expect(outcome).toMatchInlineSnapshot(`
      {
        "logs": [
          [
            "weather is",
            {
              "city": "Paris",
              "degrees": 21,
              "sky": "clear",
            },
          ],
        ],
        "return_value": {
          "count": 42,
          "greeting": "hello Ada",
          "temperature": 25,
          "weather": {
            "city": "Paris",
            "degrees": 21,
            "sky": "clear",
          },
        },
        "success": true,
        "tracked": [
          [
            "weather",
            {
              "city": "Paris",
              "degrees": 21,
              "sky": "clear",
            },
          ],
          [
            "fn",
            "[[non-primitive]]",
          ],
        ],
        "variables": {
          "count": 42,
          "settings": {
            "temperature": 25,
          },
          "user": {
            "name": "Ada",
            "tags": [
              "x",
              "y",
            ],
          },
        },
      }
    `)
    expect(temperature).toBe(25)
  })

  it('brings a tool error back into the program and out with its message', async () => {
    const outcome = await runLLMz(
      ivm,
      `let caught
      try { await failing() } catch (err) { caught = err.message }
      console.log('caught', caught)
      await failing()
      return 'unreachable'`,
      {
        failing: async () => {
          throw new Error('My Tool')
        },
      },
    )
    expect(outcome).toMatchInlineSnapshot(`
      {
        "error": {
          "lines": [],
          "message": "My Tool",
          "name": "Error",
        },
        "logs": [
          [
            "caught",
            "My Tool",
          ],
        ],
        "success": false,
        "tracked": [],
        "variables": {},
      }
    `)
  })

  it('keeps a signal message carrying JSON byte for byte', async () => {
    const signal = JSON.stringify({ type: 'ThinkSignal', reason: 'need "more" data', ü: '✓', nested: { n: 1 } })
    const outcome = await runLLMz(ivm, `throw new Error(${JSON.stringify(signal)})`, {})
    expect(outcome.error?.message).toBe(signal)
    expect(outcome).toMatchInlineSnapshot(`
      {
        "error": {
          "lines": [
            4,
          ],
          "message": "{"type":"ThinkSignal","reason":"need \\"more\\" data","ü":"✓","nested":{"n":1}}",
          "name": "Error",
        },
        "logs": [],
        "success": false,
        "tracked": [],
        "variables": {},
      }
    `)
  })

  it('reports lines of frames in named functions, as LLMz parses them', async () => {
    const outcome = await runLLMz(
      ivm,
      `function parse(input) {
        return JSON.parse(input)
      }
      function handle(input) {
        const data = parse(input)
        return data.value
      }
      return handle('{ not json')`,
      {},
    )
    expect(outcome).toMatchInlineSnapshot(`
      {
        "error": {
          "lines": [
            5,
            8,
            11,
          ],
          "message": "Expected property name or '}' in JSON at position 2",
          "name": "SyntaxError",
        },
        "logs": [],
        "success": false,
        "tracked": [],
        "variables": {},
      }
    `)
  })

  it('copies variables back after a failure, and respects sealed objects', async () => {
    const config = Object.seal({ mode: 'a', level: 1 })
    const outcome = await runLLMz(
      ivm,
      `config.mode = 'b'
      config.extra = true
      items.push(4)
      throw new TypeError('stop here')`,
      { config, items: [1, 2, 3] },
    )
    expect(outcome).toMatchInlineSnapshot(`
      {
        "error": {
          "lines": [
            7,
          ],
          "message": "stop here",
          "name": "TypeError",
        },
        "logs": [],
        "success": false,
        "tracked": [],
        "variables": {
          "config": {
            "level": 1,
            "mode": "b",
          },
          "items": {
            "0": 1,
            "1": 2,
            "2": 3,
            "3": 4,
          },
        },
      }
    `)
  })

  it('times out a runaway program and still copies variables back', async () => {
    const outcome = await runLLMz(ivm, `state.step = 1\n      while (true) {}`, { state: { step: 0 } }, { timeout: 100 })
    // The loop's line, where V8 (and the patched QuickJS) locate a loop's back edge.
    expect(outcome.error?.lines).toEqual([5])
    delete outcome.error!.lines
    expect(outcome).toMatchInlineSnapshot(`
      {
        "error": {
          "message": "Script execution timed out.",
          "name": "Error",
        },
        "logs": [],
        "success": false,
        "tracked": [],
        "variables": {
          "state": {
            "step": 1,
          },
        },
      }
    `)
  })

  it('aborts with dispose() while the program waits on a tool', async () => {
    let disposedAt = 0
    const started = Date.now()
    const outcome = await runLLMz(
      ivm,
      `await slow()
      return 'finished'`,
      { slow: () => new Promise((r) => setTimeout(r, 2000)) },
      {
        onStarted: (isolate, context) => {
          setTimeout(() => {
            disposedAt = Date.now()
            isolate.dispose()
            context.release()
          }, 50)
        },
      },
    )
    expect(Date.now() - disposedAt).toBeLessThan(1500)
    expect(Date.now() - started).toBeLessThan(2000)
    expect(outcome.success).toBe(false)
    expect(outcome.error?.message).toMatch(/disposed/)
  })

  it('aborts with dispose() while the program spins, and other isolates keep working', async () => {
    const other = new ivm.Isolate()
    const otherContext = other.createContextSync()
    let disposedAt = 0
    const outcome = await runLLMz(ivm, `while (true) {}`, {}, {
      onStarted: (isolate) => {
        setTimeout(() => {
          disposedAt = Date.now()
          isolate.dispose()
        }, 30)
      },
    })
    // The contract asks for 50 ms; the bound here leaves room for a loaded CI machine.
    expect(Date.now() - disposedAt).toBeLessThan(250)
    expect(outcome).toMatchInlineSnapshot(`
      {
        "error": {
          "lines": [],
          "message": "Isolate was disposed during execution",
          "name": "Error",
        },
        "logs": [],
        "success": false,
        "tracked": [],
        "variables": {},
      }
    `)
    expect(await otherContext.eval('6 * 7')).toBe(42)
    other.dispose()
  })
})
