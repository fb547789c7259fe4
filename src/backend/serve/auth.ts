// Serve mode's access token: made at start, required on every request. Browsers present it as a
// Bearer header (API calls), in the query (the first page load, <img> URLs, the WebSocket), or in the
// HttpOnly cookie the first page load sets (assets and images the page loads afterwards).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export function makeToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Cookies do not separate ports: two servers on one host need different cookie names. */
export const cookieName = (port: number) => `metatpt_token_${port}`;

function presentedTokens(request: IncomingMessage, url: URL, port: number): string[] {
  const tokens: string[] = [];
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (bearer) tokens.push(bearer[1]);
  const query = url.searchParams.get('token');
  if (query !== null) tokens.push(query);
  const name = cookieName(port);
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) tokens.push(value.join('='));
  }
  return tokens;
}

/** Compares digests so that neither the length nor the content leaks through timing. */
function sameToken(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * Whether the request carries the token in one of the accepted places. One match is enough: a cookie
 * left by an earlier server on the same port must not lock out a page opened with the new token.
 */
export function isAuthorized(request: IncomingMessage, url: URL, token: string, port: number): boolean {
  return presentedTokens(request, url, port).some((candidate) => sameToken(candidate, token));
}

/** The Set-Cookie value that lets the page's later requests in without the token in their URLs. */
export function tokenCookie(token: string, port: number): string {
  return `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
}
