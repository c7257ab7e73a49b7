import { createHash, timingSafeEqual } from 'node:crypto';

export type Access = 'read' | 'write';

export interface ApiToken {
  readonly name: string;
  readonly access: Access;
  /** SHA-256 of the token: compared in constant time, and the token itself is not kept. */
  readonly digest: Buffer;
}

export function makeToken(name: string, token: string, access: Access): ApiToken {
  return { name, access, digest: digest(token) };
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token named by an `Authorization: Bearer …` header, or null. Every candidate is compared, in constant time. */
export function authenticate(header: string | undefined, tokens: readonly ApiToken[]): ApiToken | null {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) return null;
  const presented = digest(m[1]!);
  let found: ApiToken | null = null;
  for (const t of tokens) {
    if (timingSafeEqual(presented, t.digest) && found === null) found = t;
  }
  return found;
}
