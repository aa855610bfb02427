'use strict'
// ExternalCopy: a structured clone held outside every heap, as immutable bytes in V8's format.
//
// A small copy keeps its bytes here, in a Buffer, until something needs the native payload (an
// isolate receiving the ExternalCopy itself): `copy()` reads them here, and `copyInto()` hands
// them over in a plain marker. A tool's result, `new ExternalCopy(result).copyInto()`, then
// costs no native objects at all (each costs ~1 µs to make and more to collect). Larger copies
// go native at once, so that their bytes exist once.
const { hide, closeShape } = require('./internal')
const native = require('./binding')
const { requireArgs, requireOptions } = require('./runner')
const { kWire, cloneBytes, deserialize, CopyMarker } = require('./transfer')

/** Copies up to this size keep their bytes in JavaScript until needed natively. */
const LAZY_MAX = 64 * 1024
const kState = Symbol('isolated-quickjs.externalCopy')
const RELEASED = 'Copy has been released'
// A copy of an ArrayBuffer (or a view) whose bytes were moved out by `transferIn`.
const MOVED = 'Array buffer is invalid'

// Bytes of copies still held here, for `totalExternalSize` (the native payloads count there).
// A garbage-collected copy stops counting when its registration fires, as isolated-vm's stop
// when their handle is collected.
let heldHere = 0
const collected = new FinalizationRegistry((held) => {
  heldHere -= held.size
})

/** The bytes of a copy held here: counted until dropped (released, made native, collected). */
function holdHere(owner, bytes) {
  const held = { size: bytes.length }
  heldHere += held.size
  collected.register(owner, held)
  return held
}

function dropHere(state) {
  heldHere -= state.held.size
  state.held.size = 0
  state.bytes = undefined
}

class ExternalCopy {
  constructor(value, options) {
    if (arguments.length < 1) throw new TypeError('`ExternalCopy` requires at least 1 parameter')
    if (options !== undefined) requireOptions(options, 2)
    const transferList = options?.transferList
    if (transferList !== undefined && !Array.isArray(transferList)) {
      throw new TypeError('`transferList` must be an array')
    }
    const bytes = cloneBytes(value)
    // (`buffer`: a copy of an ArrayBuffer or a view, whose bytes `transferIn` moves out.)
    const state = { bytes: undefined, held: undefined, wire: undefined, buffer: value instanceof ArrayBuffer || ArrayBuffer.isView(value), moved: false }
    if (bytes.length <= LAZY_MAX) {
      state.bytes = bytes
      state.held = holdHere(this, bytes)
    } else {
      state.wire = native.wireExternalCopyOf(bytes)
    }
    hide(this, kState, state)
    closeShape(this)
    // Transferred buffers are detached from the sender, as V8's transfer does.
    if (transferList !== undefined || options?.transferOut) {
      // (`transferOut` of a typed array or DataView detaches the buffer under it.)
      const out = !options?.transferOut ? undefined : value instanceof ArrayBuffer ? value : ArrayBuffer.isView(value) ? value.buffer : undefined
      const detach = [...(transferList ?? []), ...(out instanceof ArrayBuffer ? [out] : [])]
      for (const buffer of detach) {
        if (!(buffer instanceof ArrayBuffer)) throw new TypeError('`transferList` may only contain ArrayBuffers')
        structuredClone(buffer, { transfer: [buffer] })
      }
    }
  }

  /** An ExternalCopy around a native payload (one that came out of an isolate). */
  static fromWire(wire) {
    const copy = Object.create(ExternalCopy.prototype)
    hide(copy, kState, { bytes: undefined, held: undefined, wire, buffer: false, moved: false })
    closeShape(copy)
    return copy
  }

  static get totalExternalSize() {
    return native.totalExternalSize() + heldHere
  }

  /** The native payload, made now if the bytes were held here (for an isolate receiving it). */
  get [kWire]() {
    const state = this[kState]
    if (state.wire === undefined) {
      if (state.bytes === undefined) throw new Error(RELEASED)
      state.wire = native.wireExternalCopyOf(state.bytes)
      dropHere(state)
    }
    return state.wire
  }

  _wire() {
    const wire = this[kWire]
    if (wire.released) throw new Error(RELEASED)
    return wire
  }

  copy(options) {
    requireOptions(options, 1)
    const state = this[kState]
    if (state.moved) throw new Error(MOVED)
    const bytes = state.bytes
    const value = bytes !== undefined ? deserialize(bytes) : this._wire().materialize()
    // As isolated-vm: the buffer now belongs to the copy made, and the ExternalCopy has none.
    if (options?.transferIn && state.buffer) state.moved = true
    if (options?.release) this.release()
    return value
  }

  copyInto(options) {
    requireOptions(options, 1)
    const state = this[kState]
    if (state.moved) throw new Error(MOVED)
    const release = !!options?.release
    const moves = !!options?.transferIn && state.buffer
    const bytes = state.bytes
    // A marker recognised wherever it is returned or passed: ours, or the native wire's own
    // (which cannot report its landing: a move then happens now).
    const marker = bytes !== undefined ? new CopyMarker(bytes, moves ? () => (state.moved = true) : undefined) : this._wire().copyInto()
    if (moves && bytes === undefined) state.moved = true
    if (release) this.release()
    closeShape(marker)
    return marker
  }

  release() {
    const state = this[kState]
    if (state.bytes === undefined && (state.wire === undefined || state.wire.released)) throw new Error(RELEASED)
    if (state.bytes !== undefined) dropHere(state)
    state.wire?.release()
  }
}

module.exports = { ExternalCopy }
