import { createHash, timingSafeEqual } from 'node:crypto';

/** Shortest service token accepted: 16 characters of a random token are about 96 bits. */
export const MIN_SERVICE_TOKEN_LENGTH = 16;
const TOKEN = /^[A-Za-z0-9._~+/=-]+$/;

/** Why `token` cannot be a service token, or undefined when it can. */
export function serviceTokenProblem(token: string): string | undefined {
  if (token.length < MIN_SERVICE_TOKEN_LENGTH) return `shorter than ${MIN_SERVICE_TOKEN_LENGTH} characters`;
  if (!TOKEN.test(token)) return 'characters outside A-Z a-z 0-9 . _ ~ + / = -';
  return undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * A check of `Authorization: Bearer <token>` against every accepted token. Digests are
 * compared, each with `timingSafeEqual` and with no early exit, so neither a token's length
 * nor which token matched shows in the time taken.
 */
export function serviceTokenCheck(tokens: readonly string[]): (authorization: string | undefined) => boolean {
  const accepted = tokens.filter((token) => token !== '').map((token) => digest(`Bearer ${token}`));
  return (authorization) => {
    if (authorization === undefined || accepted.length === 0) return false;
    const presented = digest(authorization);
    let match = false;
    for (const expected of accepted) match = timingSafeEqual(expected, presented) || match;
    return match;
  };
}
