// The browser build of the renderer (out/renderer), served as plain files: no directory listings, no
// path leaving the build folder (neither by '..', encoded or not, nor by a symlink).
import { realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
};

export interface StaticFile {
  path: string;
  contentType: string;
}

/**
 * The file for a URL path in `root`, or null for anything that is not a regular file of a known type
 * inside root. `urlPath` is the raw (still percent-encoded) path of the request.
 */
export async function resolveStaticFile(root: string, urlPath: string): Promise<StaticFile | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const segments = relative.split('/');
  if (
    decoded.includes('\0') ||
    decoded.includes('\\') ||
    segments.some((segment) => segment === '..' || segment === '.' || segment === '')
  ) {
    return null;
  }
  const contentType = CONTENT_TYPES[extname(relative).toLowerCase()];
  if (!contentType) return null;
  try {
    const realRoot = await realpath(root);
    const target = await realpath(join(realRoot, ...segments));
    if (!target.startsWith(realRoot + sep) || !(await stat(target)).isFile()) return null;
    return { path: target, contentType };
  } catch {
    return null;
  }
}
