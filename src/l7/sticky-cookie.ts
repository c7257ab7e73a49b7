/**
 * Cookie stickiness: the cookie names the backend and carries an HMAC of that name, so a
 * client cannot steer itself onto a backend of its choosing by editing the cookie.
 * Value: "<backend id>.<base64url HMAC-SHA256 truncated to 16 bytes>".
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

function mac(secret: string, id: string): string {
  return createHmac('sha256', secret).update(id).digest().subarray(0, 16).toString('base64url');
}

export function signBackend(secret: string, id: string): string {
  return `${id}.${mac(secret, id)}`;
}

/** The backend id a cookie names, or null when it is malformed or its signature is wrong. */
export function verifyBackend(secret: string, value: string): string | null {
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return null;
  const id = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1));
  const expected = Buffer.from(mac(secret, id));
  return given.length === expected.length && timingSafeEqual(given, expected) ? id : null;
}

/** `secure` when the client came over TLS: the cookie then never travels in clear text. */
export function setCookieHeader(name: string, value: string, maxAgeSec: number | undefined, secure: boolean): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}${maxAgeSec !== undefined ? `; Max-Age=${maxAgeSec}` : ''}`;
}
