// Reader and writer for the safetensors format (https://huggingface.co/docs/safetensors):
// an 8-byte little-endian header length N, N bytes of JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the tensor bytes,
// with offsets relative to the first byte after the header.
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { ModelFileError } from './errors.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };
/** A header larger than this is not a model header but a corrupt length field. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** `readSync`/`writeSync` move at most 2 GiB per call. */
const IO_CHUNK_BYTES = 1 << 30;

export class SafetensorsError extends ModelFileError {
  override name = 'SafetensorsError';
}

export interface SafetensorsHeaderEntry {
  dtype: string;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  tensors: Map<string, SafetensorsHeaderEntry>;
  metadata: Record<string, string>;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
  fileSize: number;
}

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Always float32: F32 data is a view into the file buffer where aligned, F16/BF16 are converted. */
  data: Float32Array;
}

export interface ReadSafetensorsOptions {
  /** Read only the tensors for which this returns true (others are not type-checked nor converted). */
  select?: (name: string) => boolean;
}

function assertLittleEndianHost(): void {
  // Typed-array views interpret bytes in host order; safetensors is little-endian.
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

function openForReading(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SafetensorsError(path, 'file not found');
    throw new SafetensorsError(path, `cannot open (${(err as Error).message})`);
  }
}

function readFully(fd: number, target: Uint8Array, position: number): number {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(IO_CHUNK_BYTES, target.length - done), position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function parseHeaderJson(path: string, json: string, dataStart: number, fileSize: number): SafetensorsHeader {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new SafetensorsError(path, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SafetensorsError(path, 'header is not a JSON object');
  }
  const dataSize = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsHeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry !== 'object' || entry === null || typeof entry.dtype !== 'string') {
      throw new SafetensorsError(path, `tensor "${name}" has no dtype in the header`);
    }
    if (!Array.isArray(entry.shape) || !entry.shape.every(isNonNegativeInteger)) {
      throw new SafetensorsError(
        path,
        `tensor "${name}" has an invalid shape ${JSON.stringify(entry.shape)}`,
      );
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger)) {
      throw new SafetensorsError(
        path,
        `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) {
      throw new SafetensorsError(path, `tensor "${name}" has data_offsets out of order [${begin}, ${end}]`);
    }
    if (end > dataSize) {
      throw new SafetensorsError(
        path,
        `tensor "${name}" data_offsets [${begin}, ${end}] are out of range: the data section has ${dataSize} bytes (truncated file?)`,
      );
    }
    tensors.set(name, { dtype: entry.dtype, shape: entry.shape as number[], dataOffsets: [begin, end] });
  }
  return { tensors, metadata, dataStart, fileSize };
}

function readHeaderFromFd(path: string, fd: number): SafetensorsHeader {
  const fileSize = statSync(path).size;
  if (fileSize < 8)
    throw new SafetensorsError(path, `truncated: ${fileSize} bytes, no room for the header length`);
  const lengthBytes = Buffer.alloc(8);
  readFully(fd, lengthBytes, 0);
  const headerLength = Number(lengthBytes.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      path,
      `header length ${headerLength} is implausible (not a safetensors file?)`,
    );
  }
  if (8 + headerLength > fileSize) {
    throw new SafetensorsError(
      path,
      `truncated header: it claims ${headerLength} bytes but the file has only ${fileSize - 8} after the length`,
    );
  }
  const headerBytes = Buffer.alloc(headerLength);
  readFully(fd, headerBytes, 8);
  return parseHeaderJson(path, headerBytes.toString('utf8'), 8 + headerLength, fileSize);
}

/** Reads only the header: names, dtypes, shapes and offsets, without loading the tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForReading(path);
  try {
    return readHeaderFromFd(path, fd);
  } finally {
    closeSync(fd);
  }
}

function writeFully(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    done += writeSync(fd, bytes, done, Math.min(IO_CHUNK_BYTES, bytes.length - done));
  }
}

let halfToFloatTable: Float32Array | undefined;

/** float16 bit pattern → float32 value, for all 65536 patterns (built once). */
function halfTable(): Float32Array {
  if (halfToFloatTable) return halfToFloatTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  halfToFloatTable = table;
  return table;
}

function halfBitsView(bytes: ArrayBuffer, byteOffset: number, count: number): Uint16Array {
  if (byteOffset % 2 === 0) return new Uint16Array(bytes, byteOffset, count);
  return new Uint16Array(bytes.slice(byteOffset, byteOffset + count * 2));
}

function decodeTensorData(
  dtype: SafetensorsDtype,
  bytes: ArrayBuffer,
  byteOffset: number,
  count: number,
): Float32Array {
  if (dtype === 'F32') {
    // Zero-copy view when aligned (the usual case: headers are padded to a multiple of 8).
    if (byteOffset % 4 === 0) return new Float32Array(bytes, byteOffset, count);
    return new Float32Array(bytes.slice(byteOffset, byteOffset + count * 4));
  }
  const bits = halfBitsView(bytes, byteOffset, count);
  const out = new Float32Array(count);
  if (dtype === 'F16') {
    const table = halfTable();
    for (let i = 0; i < count; i++) out[i] = table[bits[i]];
  } else {
    // bfloat16 is the upper half of a float32.
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) outBits[i] = bits[i] << 16;
  }
  return out;
}

function isSupportedDtype(dtype: string): dtype is SafetensorsDtype {
  return dtype in BYTES_PER_ELEMENT;
}

/**
 * Reads a safetensors file into float32 tensors. The file is read into one buffer; F32 tensors are views
 * into it (so the weights exist once in memory), F16/BF16 tensors are converted to new Float32Arrays.
 */
export function readSafetensors(
  path: string,
  options: ReadSafetensorsOptions = {},
): Map<string, SafetensorsTensor> {
  assertLittleEndianHost();
  const fd = openForReading(path);
  try {
    const header = readHeaderFromFd(path, fd);
    const dataSize = header.fileSize - header.dataStart;
    const data = new ArrayBuffer(dataSize);
    const got = readFully(fd, new Uint8Array(data), header.dataStart);
    if (got !== dataSize)
      throw new SafetensorsError(path, `truncated: read ${got} of ${dataSize} data bytes`);

    const result = new Map<string, SafetensorsTensor>();
    for (const [name, entry] of header.tensors) {
      if (options.select && !options.select(name)) continue;
      if (!isSupportedDtype(entry.dtype)) {
        throw new SafetensorsError(
          path,
          `tensor "${name}" has unsupported dtype ${entry.dtype} (supported: ${Object.keys(BYTES_PER_ELEMENT).join(', ')})`,
        );
      }
      const count = elementCount(entry.shape);
      const [begin, end] = entry.dataOffsets;
      const expectedBytes = count * BYTES_PER_ELEMENT[entry.dtype];
      if (end - begin !== expectedBytes) {
        throw new SafetensorsError(
          path,
          `tensor "${name}" has shape ${JSON.stringify(entry.shape)} (${expectedBytes} bytes of ${entry.dtype}) but data_offsets span ${end - begin} bytes`,
        );
      }
      result.set(name, {
        dtype: entry.dtype,
        shape: entry.shape,
        data: decodeTensorData(entry.dtype, data, begin, count),
      });
    }
    return result;
  } finally {
    closeSync(fd);
  }
}

/** A float32 tensor to write; `data` may be a function so that large models are produced one tensor at a time. */
export interface TensorToWrite {
  shape: number[];
  data: Float32Array | (() => Float32Array);
}

/**
 * Writes float32 tensors (in name order) to a temp file next to `path`, then renames it into place,
 * so readers never see a half-written file.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, TensorToWrite>,
  metadata: Record<string, string> = { format: 'pt' },
): void {
  assertLittleEndianHost();
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const bytes = elementCount(tensors.get(name)!.shape) * 4;
    header[name] = { dtype: 'F32', shape: tensors.get(name)!.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = JSON.stringify(header);
  // Pad with spaces so the data section (and every F32 tensor) starts 8-byte aligned.
  const headerText = json + ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const lengthBytes = Buffer.alloc(8);
  lengthBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  const tempPath = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fd = openSync(tempPath, 'w');
    try {
      writeFully(fd, lengthBytes);
      writeFully(fd, headerBytes);
      for (const name of names) {
        const tensor = tensors.get(name)!;
        const values = typeof tensor.data === 'function' ? tensor.data() : tensor.data;
        const count = elementCount(tensor.shape);
        if (values.length !== count) {
          throw new Error(
            `${path}: tensor "${name}" has ${values.length} values but shape ${JSON.stringify(tensor.shape)} needs ${count}`,
          );
        }
        writeFully(fd, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tempPath, path);
  } catch (err) {
    rmSync(tempPath, { force: true });
    throw err;
  }
}
