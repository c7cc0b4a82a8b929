import { rmSync } from 'node:fs';

/** Removes the run's store when the config made it (a folder given in E2E_DATA_DIR is the caller's). */
export default function globalTeardown(): void {
  const dir = process.env.E2E_DATA_DIR;
  if (dir !== undefined && process.env.E2E_DATA_DIR_MADE === dir) rmSync(dir, { recursive: true, force: true });
}
