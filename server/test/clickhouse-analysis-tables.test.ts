/** The DDL the README points a team to (`docs/clickhouse-analysis-tables.sql`) is what the analysis runs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysisDdl } from '../src/analysis/clickhouse/analysis-tables.js';

describe('docs/clickhouse-analysis-tables.sql', () => {
  it('holds exactly the statements analysisDdl runs, for the exporter default database otel', () => {
    const file = readFileSync(join(import.meta.dirname, '../../docs/clickhouse-analysis-tables.sql'), 'utf8');
    const statements = file
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n')
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean);
    expect(statements).toEqual(analysisDdl('otel').map((s) => s.trim()));
  });
});
