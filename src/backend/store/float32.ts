// Float arrays are stored as little-endian Float32 BLOBs: compact, exact for the engine's float32
// outputs, and readable by any language. The byte order is fixed so a database moves between machines.

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function float32ToBlob(values: ArrayLike<number>): Buffer {
  const blob = Buffer.allocUnsafe(values.length * 4);
  if (littleEndianHost && values instanceof Float32Array) {
    blob.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return blob;
  }
  for (let i = 0; i < values.length; i++) blob.writeFloatLE(values[i], i * 4);
  return blob;
}

export function blobToFloat32(blob: Uint8Array): Float32Array {
  if (blob.byteLength % 4 !== 0) {
    throw new Error(`float32 blob has ${blob.byteLength} bytes, not a multiple of 4`);
  }
  const out = new Float32Array(blob.byteLength / 4);
  if (littleEndianHost) {
    // Copy: the source buffer may be unaligned or pooled.
    new Uint8Array(out.buffer).set(blob);
    return out;
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Largest value and its index; used for confidence and predicted label of a probability vector. */
export function maxWithIndex(values: ArrayLike<number>): { value: number; index: number } {
  let index = -1;
  let value = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > value) {
      value = values[i];
      index = i;
    }
  }
  return { value, index };
}
