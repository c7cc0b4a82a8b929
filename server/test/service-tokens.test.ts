import { describe, expect, it } from 'vitest';
import { serviceTokenCheck, serviceTokenProblem } from '../src/http/service-tokens.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { tempDir } from './helpers.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-fedcba9876543210';

describe('serviceTokenCheck', () => {
  it.each([
    ['the current token', `Bearer ${NEW}`, true],
    ['the token being rotated out, while it is still listed', `Bearer ${OLD}`, true],
    ['another token', 'Bearer another-token-000000000000', false],
    ['a prefix of a token', `Bearer ${NEW.slice(0, -1)}`, false],
    ['a token with more after it', `Bearer ${NEW}x`, false],
    ['the token without the scheme', NEW, false],
    ['no header', undefined, false],
  ])('%s: %s', (_label, header, expected) => {
    expect(serviceTokenCheck([OLD, NEW])(header)).toBe(expected);
  });

  it('trusts nothing without tokens', () => {
    expect(serviceTokenCheck([])('Bearer ')).toBe(false);
    expect(serviceTokenCheck([''])('Bearer ')).toBe(false);
  });

  it('refuses tokens too short or with other characters', () => {
    expect(serviceTokenProblem('short')).toMatch(/shorter than 16/);
    expect(serviceTokenProblem('a token with spaces')).toMatch(/characters outside/);
    expect(serviceTokenProblem(NEW)).toBeUndefined();
  });
});

describe('SERVICE_TOKENS and SERVICE_TOKENS_FILE', () => {
  it('reads both, the file one token a line with comments', () => {
    const file = join(tempDir('tokens'), 'tokens');
    writeFileSync(file, `# rotated in on 2026-12-04\n${NEW}\n\n${OLD}   # remove after the rollout\n`);
    expect(loadConfig({ SERVICE_TOKENS: ` ${OLD}, ${NEW} `, SERVICE_TOKENS_FILE: file }).serviceTokens).toEqual([OLD, NEW, NEW, OLD]);
    expect(loadConfig({}).serviceTokens).toEqual([]);
  });

  it('fails fast on a weak token or a file that cannot be read, naming the variable', () => {
    expect(() => loadConfig({ SERVICE_TOKENS: 'secret' })).toThrow(ConfigError);
    expect(() => loadConfig({ SERVICE_TOKENS: 'secret' })).toThrow(/SERVICE_TOKENS has an invalid token/);
    expect(() => loadConfig({ SERVICE_TOKENS_FILE: '/no/such/file' })).toThrow(/SERVICE_TOKENS_FILE \/no\/such\/file could not be read/);
  });
});
