import { describe, expect, it } from 'vitest';
import {
  W3C_MAX_MEMBER_BYTES,
  W3C_MAX_TOTAL_BYTES,
  guardBaggage,
  unsafeValueReason,
} from '../src/baggage-guard.js';

/** The keys the server reads from browser baggage (SPEC.md, trust model). */
const SERVER_KEYS = new Set(['experiment.rec_algorithm', 'experiment.ranking_boost', 'user.cohort']);

describe('unsafeValueReason', () => {
  it.each<[string, string, RegExp | undefined]>([
    ['a variant name', 'control', undefined],
    ['a variant with underscore', 'recency_boost', undefined],
    ['dots and dashes', 'v1.2-beta', undefined],
    ['a cohort', 'registered', undefined],
    ['six digits in a row', 'build-123456', undefined],
    ['exactly 64 characters', 'a'.repeat(64), undefined],
    ['the empty string', '', /empty/],
    ['65 characters', 'a'.repeat(65), /longer than 64/],
    ['an e-mail address', 'jane.doe@example.com', /e-mail/],
    ['a bare @', '@', /e-mail/],
    ['seven digits', '1234567', /personal number/],
    ['an account number inside a token', 'acct-000123456789', /personal number/],
    ['a card number', '4111111111111111', /personal number/],
    ['a space', 'hello world', /characters outside/],
    ['a phone number with spaces', '+44 20 7946 0958', /characters outside/],
    ['a comma (baggage list separator)', 'a,b', /characters outside/],
    ['a semicolon (property separator)', 'a;b', /characters outside/],
    ['an equals sign', 'a=b', /characters outside/],
    ['percent-encoding', 'a%20b', /characters outside/],
    ['a newline', 'a\nb', /characters outside/],
    ['non-ASCII letters', 'Zoë', /characters outside/],
    ['an emoji', '🎲', /characters outside/],
  ])('%s: %j', (_label, value, reason) => {
    const actual = unsafeValueReason(value);
    if (reason === undefined) expect(actual).toBeUndefined();
    else expect(actual).toMatch(reason);
  });

  it('honours a custom maximum length', () => {
    expect(unsafeValueReason('abcde', 5)).toBeUndefined();
    expect(unsafeValueReason('abcdef', 5)).toMatch(/longer than 5/);
  });
});

describe('guardBaggage', () => {
  it('keeps allow-listed safe entries and drops the rest with a reason', () => {
    const result = guardBaggage(
      [
        ['experiment.rec_algorithm', 'hybrid'],
        ['experiment.ranking_boost', 'recency_boost'],
        ['user.cohort', 'registered'],
        ['experiment.unknown', 'x'],
        ['session.id', 'abc'],
      ],
      { allowedKeys: SERVER_KEYS },
    );
    expect(result.entries).toEqual({
      'experiment.rec_algorithm': 'hybrid',
      'experiment.ranking_boost': 'recency_boost',
      'user.cohort': 'registered',
    });
    expect(result.dropped).toEqual([
      { key: 'experiment.unknown', reason: 'key not allow-listed' },
      { key: 'session.id', reason: 'key not allow-listed' },
    ]);
  });

  it('accepts any iterable of pairs, such as a Map', () => {
    const result = guardBaggage(new Map([['user.cohort', 'anonymous']]), { allowedKeys: SERVER_KEYS });
    expect(result).toEqual({ entries: { 'user.cohort': 'anonymous' }, dropped: [] });
  });

  it.each(['user.id', 'user.email', 'user.name', 'enduser.id'])(
    'never lets %s through, even when it is allow-listed',
    (key) => {
      const result = guardBaggage([[key, 'safe-looking']], { allowedKeys: new Set([...SERVER_KEYS, key]) });
      expect(result.entries).toEqual({});
      expect(result.dropped).toEqual([{ key, reason: 'personal key' }]);
    },
  );

  it.each<[string, string, RegExp]>([
    ['an e-mail address', 'jane@example.com', /e-mail/],
    ['a long number', '5551234567', /personal number/],
    ['free text', 'Jane Doe', /characters outside/],
    ['an empty value', '', /empty/],
    ['a value over 64 characters', 'x'.repeat(65), /longer than 64/],
  ])('drops %s under an allow-listed key', (_label, value, reason) => {
    const result = guardBaggage(
      [
        ['user.cohort', value],
        ['experiment.rec_algorithm', 'control'],
      ],
      { allowedKeys: SERVER_KEYS },
    );
    expect(result.entries).toEqual({ 'experiment.rec_algorithm': 'control' });
    expect(result.dropped).toHaveLength(1);
    expect(result.dropped[0]!.key).toBe('user.cohort');
    expect(result.dropped[0]!.reason).toMatch(reason);
  });

  it('uses maxValueLength from the config', () => {
    const config = { allowedKeys: SERVER_KEYS, maxValueLength: 4 };
    expect(guardBaggage([['user.cohort', 'abcd']], config).entries).toEqual({ 'user.cohort': 'abcd' });
    expect(guardBaggage([['user.cohort', 'abcde']], config).dropped[0]?.reason).toMatch(/longer than 4/);
  });

  it('keeps at most 10 entries by default, dropping the later ones', () => {
    const keys = Array.from({ length: 12 }, (_, i) => `experiment.e${i}`);
    const result = guardBaggage(
      keys.map((k) => [k, 'control'] as const),
      { allowedKeys: new Set(keys) },
    );
    expect(Object.keys(result.entries)).toEqual(keys.slice(0, 10));
    expect(result.dropped).toEqual([
      { key: 'experiment.e10', reason: 'more than 10 entries' },
      { key: 'experiment.e11', reason: 'more than 10 entries' },
    ]);
  });

  it('honours a custom maxItems; a repeated key keeps its last value', () => {
    const result = guardBaggage(
      [
        ['session.id', 'x'],
        ['experiment.rec_algorithm', 'hybrid'],
        ['user.cohort', 'bad value'],
        ['experiment.ranking_boost', 'control'],
        ['user.cohort', 'registered'],
      ],
      { allowedKeys: SERVER_KEYS, maxItems: 2 },
    );
    expect(result.entries).toEqual({ 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control' });
    expect(result.dropped.map((d) => d.reason)).toEqual([
      'key not allow-listed',
      'more than 2 entries',
    ]);
  });

  it('applies the W3C limits of 4,096 bytes per member and 8,192 in all', () => {
    expect(W3C_MAX_MEMBER_BYTES).toBe(4096);
    expect(W3C_MAX_TOTAL_BYTES).toBe(8192);
  });

  it('keeps a member of exactly 4,096 bytes and drops one of 4,097', () => {
    const config = { allowedKeys: new Set(['k', 'j']), maxValueLength: 10_000 };
    // `k` + `=` + value: 1 + 1 + 4094 = 4096 bytes.
    const fits = guardBaggage([['k', 'v'.repeat(4094)]], config);
    expect(Object.keys(fits.entries)).toEqual(['k']);
    const tooLong = guardBaggage(
      [
        ['k', 'v'.repeat(4095)],
        ['j', 'short'],
      ],
      config,
    );
    expect(tooLong.entries).toEqual({ j: 'short' });
    expect(tooLong.dropped).toEqual([{ key: 'k', reason: 'W3C baggage size limit' }]);
  });

  it('keeps the whole baggage-string within 8,192 bytes, counting the commas', () => {
    const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
    const config = { allowedKeys: new Set(keys), maxValueLength: 10_000 };
    const big = 'v'.repeat(4000); // each member: 2 + 1 + 4000 = 4003 bytes
    // 4003 + 1 + 4003 = 8007 bytes so far; 185 remain, a comma and `k4=` take 4, so 181 fit.
    const exact = guardBaggage(
      [
        ['k1', big],
        ['k2', big],
        ['k3', big],
        ['k4', 'w'.repeat(182)],
        ['k5', 'w'.repeat(181)],
      ],
      config,
    );
    expect(Object.keys(exact.entries)).toEqual(['k1', 'k2', 'k5']);
    expect(exact.dropped).toEqual([
      { key: 'k3', reason: 'W3C baggage size limit' },
      { key: 'k4', reason: 'W3C baggage size limit' },
    ]);
    const serialized = Object.entries(exact.entries)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    expect(new TextEncoder().encode(serialized).length).toBe(W3C_MAX_TOTAL_BYTES);
  });

  it('lets the last of duplicated keys win', () => {
    const result = guardBaggage(
      [
        ['experiment.rec_algorithm', 'control'],
        ['experiment.rec_algorithm', 'hybrid'],
      ],
      { allowedKeys: SERVER_KEYS },
    );
    expect(result).toEqual({ entries: { 'experiment.rec_algorithm': 'hybrid' }, dropped: [] });
  });

  it('returns nothing for no entries', () => {
    expect(guardBaggage([], { allowedKeys: SERVER_KEYS })).toEqual({ entries: {}, dropped: [] });
  });
});

describe('guardBaggage with repeated keys', () => {
  it('keeps the last value of a repeated key even at the item limit', () => {
    const result = guardBaggage([['experiment.rec_algorithm', 'control'], ['experiment.rec_algorithm', 'hybrid']], {
      allowedKeys: new Set(['experiment.rec_algorithm']),
      maxItems: 1,
    });
    expect(result.entries).toEqual({ 'experiment.rec_algorithm': 'hybrid' });
    expect(result.dropped).toEqual([]);
  });

  it('counts a replaced value once against the W3C total', () => {
    const long = 'a'.repeat(4000);
    const result = guardBaggage([['k', long], ['k', long], ['m', 'b'.repeat(200)]], {
      allowedKeys: new Set(['k', 'm']),
      maxValueLength: 5000,
    });
    expect(Object.keys(result.entries)).toEqual(['k', 'm']);
  });
});
