import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a secret: equal-length values to compare, whatever the lengths given. */
export function secretDigest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Whether `given` is the secret whose digest is `expected`, in time that says nothing about either. */
export function matchesSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(secretDigest(given), expected);
}

/** The token of an `Authorization: Bearer <token>` header; undefined when the header is absent or has another form. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer[ ]+(\S+)\s*$/i.exec(header)?.[1];
}
