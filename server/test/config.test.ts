import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { loadDemoConfig } from '../src/demo/index.js';

describe('loadConfig', () => {
  it.each([
    ['unset', undefined, []],
    ['empty', '', []],
    ['any origin', '*', ['*']],
    ['one origin', 'https://news.example', ['https://news.example']],
    ['a list, spaced, with a port and a trailing slash', ' https://news.example , http://localhost:5173/', ['https://news.example', 'http://localhost:5173']],
    ['an origin with its default port and capitals', 'HTTPS://News.Example:443', ['https://news.example']],
  ])('reads CORS_ORIGINS %s', (_label, value, expected) => {
    expect(loadConfig(value === undefined ? {} : { CORS_ORIGINS: value }).corsOrigins).toEqual(expected);
  });

  it.each([
    ['a word', 'notanorigin'],
    ['a host without a scheme', 'news.example'],
    ['another scheme', 'ftp://news.example'],
    ['a URL with a path', 'https://news.example/app'],
    ['one bad entry in a list', 'https://news.example,nope'],
  ])('refuses CORS_ORIGINS that is %s, naming the variable', (_label, value) => {
    expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
    expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(
      /^Configuration: CORS_ORIGINS is invalid, expected \* or a comma-separated list of http\(s\) origins such as https:\/\/news\.example \(actual: /,
    );
  });
});

describe.each([
  ['FEATURES_CACHE_TTL_MS', 'featuresCacheTtlMs', 30_000],
  ['CONTENT_CACHE_TTL_MS', 'contentCacheTtlMs', 60_000],
] as const)('%s', (name, field, fallback) => {
  it('has a default, takes 0 (no reuse) and refuses what is not a whole number of ms', () => {
    expect(loadDemoConfig({})[field]).toBe(fallback);
    expect(loadDemoConfig({ [name]: '0' })[field]).toBe(0);
    expect(() => loadDemoConfig({ [name]: '-1' })).toThrow(new RegExp(`${name} is invalid`));
    expect(() => loadDemoConfig({ [name]: 'soon' })).toThrow(new RegExp(`${name} is invalid`));
  });
});
