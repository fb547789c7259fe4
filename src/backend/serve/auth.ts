// Serve mode's credentials and the checks every request passes before routing.
//
// Cookies are not scoped by port: a cookie set by 127.0.0.1:5173 is sent to every other server on
// 127.0.0.1 the browser visits (a notebook, TensorBoard, a colleague's forwarded port). So the API
// token never travels in a cookie: the API takes it only as an `Authorization: Bearer` header and the
// events socket only as a subprotocol (browsers cannot set socket headers). What the page loads by
// itself (its scripts, <img> tags) carries the asset key instead, in an HttpOnly cookie: a key derived
// from the token that opens images and the renderer's files and nothing else, so a leaked asset cookie
// cannot call the API. The printed URL (`/?token=…`) is the only way in for a browser.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { BEARER_PROTOCOL_PREFIX } from '../../shared/client-http.js';

/** A new random API token: 24 bytes, base64url (32 characters, valid in a WebSocket subprotocol). */
export function makeToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The asset key belonging to a token; one-way, so it reveals nothing about the token. */
export function assetKeyOf(token: string): string {
  return createHmac('sha256', token).update('metatpt serve asset key v1').digest('base64url');
}

/** The asset cookie's name: one per port, so two servers on one host do not overwrite each other's. */
export const assetCookieName = (port: number) => `metatpt_assets_${port}`;

/** The Set-Cookie value that lets the page's own assets and images load. */
export function assetCookie(token: string, port: number): string {
  return `${assetCookieName(port)}=${assetKeyOf(token)}; HttpOnly; SameSite=Strict; Path=/`;
}

/** Compares digests so that neither the length nor the content leaks through timing. */
export function same(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

export function bearerOf(headers: IncomingHttpHeaders): string | null {
  return /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '')?.[1] ?? null;
}

/** Whether the request's Authorization header carries the API token. */
export function hasApiToken(headers: IncomingHttpHeaders, token: string): boolean {
  const presented = bearerOf(headers);
  return presented !== null && same(presented, token);
}

/** Whether an events socket request carries the API token (Authorization header or subprotocol). */
export function hasSocketToken(headers: IncomingHttpHeaders, token: string): boolean {
  if (hasApiToken(headers, token)) return true;
  const offered = (headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  return offered.some(
    (protocol) =>
      protocol.startsWith(BEARER_PROTOCOL_PREFIX) &&
      same(protocol.slice(BEARER_PROTOCOL_PREFIX.length), token),
  );
}

/** Whether the request may load images and assets: the asset cookie, or the API token as a header. */
export function hasAssetKey(headers: IncomingHttpHeaders, token: string, port: number): boolean {
  if (hasApiToken(headers, token)) return true;
  const name = assetCookieName(port);
  const expected = assetKeyOf(token);
  // Every cookie of that name counts: one left by an earlier server on this port must not lock out
  // the page opened with the current token.
  return (headers.cookie ?? '').split(';').some((part) => {
    const [key, ...value] = part.trim().split('=');
    return key === name && same(value.join('='), expected);
  });
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];

function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\./.test(address);
}

function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/**
 * The host names a request may be addressed to, for a server bound to `bindAddress`: the loopback
 * names (any port, so that `ssh -L 9000:127.0.0.1:5173` works), the bound address, for a wildcard
 * bind every local interface address and the machine's name, and the names the user allowed.
 * A browser led to this server by DNS rebinding sends the attacker's name and is refused.
 */
export function allowedHostNames(bindAddress: string, extra: readonly string[] = []): Set<string> {
  const names = new Set<string>([...LOOPBACK_NAMES, ...extra.map((name) => name.toLowerCase())]);
  if (!isLoopback(bindAddress)) names.add(bindAddress.toLowerCase());
  if (isWildcard(bindAddress)) {
    names.add(hostname().toLowerCase());
    for (const addresses of Object.values(networkInterfaces())) {
      for (const { address } of addresses ?? []) names.add(address.toLowerCase());
    }
  }
  return names;
}

/** The host name of a Host header value (`name:port`, `[v6]:port`), lower-cased; null if malformed. */
function hostNameOf(hostHeader: string): string | null {
  try {
    const name = new URL(`http://${hostHeader}`).hostname.toLowerCase();
    return name.startsWith('[') ? name.slice(1, -1) : name;
  } catch {
    return null;
  }
}

/**
 * Why the request's Host or Origin header is refused (421 Misdirected Request for a host name this
 * server does not answer to, 403 for a page of another origin), or null when both are acceptable.
 */
export function hostOrOriginProblem(
  headers: IncomingHttpHeaders,
  allowed: ReadonlySet<string>,
): { status: 421 | 403; message: string } | null {
  const host = headers.host;
  const name = host === undefined ? null : hostNameOf(host);
  if (name === null || (!allowed.has(name) && !(isIP(name) && isLoopback(name)))) {
    return {
      status: 421,
      message: `this server does not answer to the host name ${JSON.stringify(host ?? '')}`,
    };
  }
  const { origin } = headers;
  // Programs send no Origin; a browser sends its page's, which must be this server as addressed.
  if (origin !== undefined && origin !== `http://${host}`) {
    return { status: 403, message: `requests from pages of ${JSON.stringify(origin)} are not accepted` };
  }
  return null;
}

/**
 * Whether a browser made the request for a page of this very origin (or the user typed the URL). A
 * page of another port on the same host is "same-site" and gets the SameSite=Strict cookie; the
 * fetch metadata header tells them apart. Programs send no such header.
 */
export function fromOwnOrigin(headers: IncomingHttpHeaders): boolean {
  const site = headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}
