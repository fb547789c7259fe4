// Reading a file whose path came from a user or a client: regular files only, up to a stated size.
// A FIFO would block the read forever (and, through libuv's small thread pool, four such calls stop
// every other file operation of the process); a device like /dev/zero never ends; a huge file is
// held whole in memory. So the file is opened without blocking, checked by its handle (what is
// checked is what is read), and refused with the reason and the limit in the message.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { InvalidRequestError } from './store/errors.js';

/** A file the caller named that cannot be read as asked (the caller's mistake: HTTP 400). */
export class FileRefusedError extends InvalidRequestError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'FileRefusedError';
  }
}

const MiB = 1024 * 1024;

/** What went wrong with a path a user gave, in words (Node's errno text, or its own for a NUL byte). */
const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a folder',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  ELOOP: 'too many symbolic links (a loop?)',
  ENAMETOOLONG: 'the name is too long',
  ERR_INVALID_ARG_VALUE: 'the path contains a NUL character',
};

/** The problem of a file-system call on a user's path, as a short phrase (the errno text otherwise). */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (code && FS_PROBLEMS[code]) ?? (error instanceof Error ? error.message : String(error));
}

function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a named pipe (FIFO)';
  if (stats.isSocket()) return 'a socket';
  return 'a device';
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` long. Throws FileRefusedError (naming
 * the file, what it is, and the limit) for anything else; other I/O errors keep their message,
 * prefixed with the path. `what` names the file's role in messages ("class file").
 */
export async function readRegularFile(path: string, maxBytes: number, what = 'file'): Promise<Buffer> {
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new FileRefusedError(path, `cannot read the ${what}: ${describeFsError(error)}`);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new FileRefusedError(path, `is ${kindOf(stats)}, not a regular file; the ${what} must be a file`);
    }
    const limit = `${(maxBytes / MiB).toFixed(maxBytes < MiB ? 2 : 0)} MiB`;
    if (stats.size > maxBytes) {
      throw new FileRefusedError(path, `is ${stats.size} bytes, more than the ${limit} a ${what} may have`);
    }
    // One byte more than the file had: filling it means the file grew since the check.
    const buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) {
      ({ bytesRead: read } = await handle.read(buffer, length, buffer.length - length, null));
    }
    if (length === buffer.length) throw new FileRefusedError(path, `changed while it was read; try again`);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
