import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where a generated read token is kept, inside `DATA_DIR`. */
export const READ_TOKEN_FILE = 'read-token';
/** 32 random bytes: as strong as the tokens notebook servers generate. */
const TOKEN_BYTES = 32;
/** Owner read/write only: the token opens every visitor's telemetry. */
const TOKEN_FILE_MODE = 0o600;

/** The read token and where it came from, for the start-up message. */
export interface ReadToken {
  readonly token: string;
  /** `env` when `READ_TOKEN` set it; otherwise the file it was read from or written to. */
  readonly source: 'env' | { readonly file: string; readonly generated: boolean };
}

/**
 * `READ_TOKEN` when set; otherwise the token kept in `DATA_DIR/read-token`, generated (mode
 * 0600) at the first start, so a restart keeps the links people were given.
 */
export function loadReadToken(fromEnv: string | undefined, dataDir: string): ReadToken {
  if (fromEnv !== undefined) return { token: fromEnv, source: 'env' };
  const file = join(dataDir, READ_TOKEN_FILE);
  let kept: string | undefined;
  try {
    kept = readFileSync(file, 'utf8').trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (kept !== undefined && kept !== '') {
    // A copy restored with looser permissions is tightened again.
    chmodSync(file, TOKEN_FILE_MODE);
    return { token: kept, source: { file, generated: false } };
  }
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: TOKEN_FILE_MODE });
  chmodSync(file, TOKEN_FILE_MODE);
  return { token, source: { file, generated: true } };
}
