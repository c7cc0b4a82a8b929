import { describe, expect, it } from 'vitest';
import { ConfigurationError, configFromDataset, resolveConfig } from '../src/config.js';
import { recommendationsRequestUrl } from '../src/recommendations-client.js';

const PAGE_ORIGIN = 'https://news.example';

describe('resolveConfig', () => {
  it('fills every option with its default', () => {
    expect(resolveConfig({}, PAGE_ORIGIN)).toEqual({
      endpoint: PAGE_ORIGIN,
      recommendationsUrl: `${PAGE_ORIGIN}/api/recommendations`,
      serviceName: 'content-site',
      propagateTo: [],
      visitorId: { kind: 'query', param: 'user' },
      autoTrack: true,
      consent: 'granted',
      respectGpc: false,
      spanBatchDelayMs: 1000,
      metricIntervalMs: 10_000,
    });
  });

  it('keeps the options the page set, including false and 0', () => {
    const config = resolveConfig(
      {
        endpoint: 'https://telemetry.example/lens',
        serviceName: 'blog',
        propagateTo: ['https://api.example'],
        visitorId: { kind: 'fixed', id: 'u-1' },
        autoTrack: false,
        consent: 'pending',
        respectGpc: true,
        spanBatchDelayMs: 0,
        metricIntervalMs: 60_000,
      },
      PAGE_ORIGIN,
    );
    expect(config).toEqual({
      endpoint: 'https://telemetry.example/lens',
      recommendationsUrl: 'https://telemetry.example/lens/api/recommendations',
      serviceName: 'blog',
      // The endpoint's origin gets traceparent and baggage without being listed.
      propagateTo: ['https://api.example', 'https://telemetry.example'],
      visitorId: { kind: 'fixed', id: 'u-1' },
      autoTrack: false,
      consent: 'pending',
      respectGpc: true,
      spanBatchDelayMs: 0,
      metricIntervalMs: 60_000,
    });
  });

  it.each([
    ['https://telemetry.example/', 'https://telemetry.example'],
    ['https://telemetry.example/lens/', 'https://telemetry.example/lens'],
    ['https://telemetry.example/lens///', 'https://telemetry.example/lens'],
    ['http://localhost:3000', 'http://localhost:3000'],
  ])('strips trailing slashes from endpoint %s', (endpoint, expected) => {
    expect(resolveConfig({ endpoint }, PAGE_ORIGIN).endpoint).toBe(expected);
  });

  it('strips a trailing slash from the page origin used as the default', () => {
    expect(resolveConfig({}, 'http://localhost:3000/').endpoint).toBe('http://localhost:3000');
  });

  it('propagates to the endpoint\'s and the recommendations service\'s origins by default, not listing the page\'s own', () => {
    expect(resolveConfig({ endpoint: 'https://lens.example' }, PAGE_ORIGIN).propagateTo).toEqual(['https://lens.example']);
    const config = resolveConfig({ endpoint: 'https://lens.example', recommendationsUrl: 'https://recs.example/api/recs' }, PAGE_ORIGIN);
    expect(config.propagateTo).toEqual(['https://lens.example', 'https://recs.example']);
    expect(resolveConfig({ recommendationsUrl: '/api/my-recs' }, PAGE_ORIGIN)).toMatchObject({ recommendationsUrl: '/api/my-recs', propagateTo: [] });
    expect(() => resolveConfig({ recommendationsUrl: 'ftp://recs.example/' }, PAGE_ORIGIN)).toThrow(/^Configuration: recommendationsUrl is invalid/);
  });

  it('reduces propagateTo entries to their origins', () => {
    const config = resolveConfig({ propagateTo: ['https://api.example/v1/things?x=1', 'http://cdn.example:8080/'] }, PAGE_ORIGIN);
    expect(config.propagateTo).toEqual(['https://api.example', 'http://cdn.example:8080']);
  });

  it.each(['/relative', 'telemetry.example', 'not a url', '', '///'])('refuses the endpoint %j, naming the option', (endpoint) => {
    expect(() => resolveConfig({ endpoint }, PAGE_ORIGIN)).toThrow(ConfigurationError);
    expect(() => resolveConfig({ endpoint }, PAGE_ORIGIN)).toThrow(/^Configuration: endpoint is invalid, expected an absolute http\(s\) URL/);
  });

  it.each(['api.example', '/api', ''])('refuses the propagateTo entry %j, naming the option', (origin) => {
    expect(() => resolveConfig({ propagateTo: ['https://ok.example', origin] }, PAGE_ORIGIN)).toThrow(ConfigurationError);
    expect(() => resolveConfig({ propagateTo: [origin] }, PAGE_ORIGIN)).toThrow(
      `Configuration: propagateTo is invalid, expected an absolute http(s) URL (actual: ${origin})`,
    );
  });

  it('refuses an invalid page origin when no endpoint is set', () => {
    expect(() => resolveConfig({}, 'null')).toThrow(/endpoint is invalid/);
  });

  it('reports errors as ConfigurationError, an Error the script tag can log', () => {
    let caught: unknown;
    try {
      resolveConfig({ endpoint: 'nope' }, PAGE_ORIGIN);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toContain('(actual: nope)');
  });
});

describe('configFromDataset', () => {
  it('sets nothing for an empty dataset, so every default applies', () => {
    expect(configFromDataset({})).toEqual({});
    expect(resolveConfig(configFromDataset({}), PAGE_ORIGIN)).toEqual(resolveConfig({}, PAGE_ORIGIN));
  });

  it('reads data-recommendations-url as given', () => {
    expect(configFromDataset({ recommendationsUrl: 'https://recs.example/api/recs' })).toEqual({ recommendationsUrl: 'https://recs.example/api/recs' });
  });

  it('reads endpoint and service name as given', () => {
    expect(configFromDataset({ endpoint: 'https://t.example/', serviceName: 'docs-site' })).toEqual({
      endpoint: 'https://t.example/',
      serviceName: 'docs-site',
    });
  });

  it.each([
    ['https://a.example', ['https://a.example']],
    ['https://a.example,https://b.example', ['https://a.example', 'https://b.example']],
    ['https://a.example https://b.example', ['https://a.example', 'https://b.example']],
    ['  https://a.example ,\n https://b.example , ', ['https://a.example', 'https://b.example']],
    ['', []],
  ])('splits data-propagate-to %j on commas and whitespace', (value, expected) => {
    expect(configFromDataset({ propagateTo: value }).propagateTo).toEqual(expected);
  });

  it.each<[string, unknown]>([
    ['anonymous', { kind: 'anonymous' }],
    ['query:user', { kind: 'query', param: 'user' }],
    ['query:visitor_id', { kind: 'query', param: 'visitor_id' }],
    ['fixed:u-42', { kind: 'fixed', id: 'u-42' }],
    ['fixed:a:b', { kind: 'fixed', id: 'a:b' }],
  ])('reads data-visitor-id %j', (value, expected) => {
    expect(configFromDataset({ visitorId: value }).visitorId).toEqual(expected);
  });

  it.each(['', 'query:', 'fixed:', 'query', 'fixed', 'Anonymous', 'cookie:vid', 'u-42'])(
    'refuses data-visitor-id %j, naming the attribute',
    (value) => {
      expect(() => configFromDataset({ visitorId: value })).toThrow(ConfigurationError);
      expect(() => configFromDataset({ visitorId: value })).toThrow(
        `Configuration: data-visitor-id is invalid, expected anonymous, query:<param> or fixed:<id> (actual: ${value})`,
      );
    },
  );

  it.each<[string, boolean]>([
    ['true', true],
    ['', true], // a bare `data-auto-track` attribute
    ['false', false],
  ])('reads data-auto-track %j as %s', (value, expected) => {
    expect(configFromDataset({ autoTrack: value }).autoTrack).toBe(expected);
  });

  it.each(['yes', 'no', '0', '1', 'TRUE', 'off'])('refuses data-auto-track %j, naming the attribute', (value) => {
    expect(() => configFromDataset({ autoTrack: value })).toThrow(ConfigurationError);
    expect(() => configFromDataset({ autoTrack: value })).toThrow(
      `Configuration: data-auto-track is invalid, expected true or false (actual: ${value})`,
    );
  });

  it('leaves autoTrack unset when the attribute is absent', () => {
    expect('autoTrack' in configFromDataset({ endpoint: 'https://t.example' })).toBe(false);
  });

  it('gives an invalid data-endpoint to resolveConfig, which names the option', () => {
    const partial = configFromDataset({ endpoint: 'telemetry' });
    expect(() => resolveConfig(partial, PAGE_ORIGIN)).toThrow(/endpoint is invalid/);
  });

  it('produces a full configuration from a realistic script tag', () => {
    const partial = configFromDataset({
      endpoint: 'https://lens.example/',
      propagateTo: 'https://api.example/recs https://cdn.example',
      visitorId: 'query:u',
      autoTrack: 'false',
      consent: 'denied',
      respectGpc: 'true',
    });
    expect(resolveConfig(partial, PAGE_ORIGIN)).toEqual({
      endpoint: 'https://lens.example',
      recommendationsUrl: 'https://lens.example/api/recommendations',
      serviceName: 'content-site',
      propagateTo: ['https://api.example', 'https://cdn.example', 'https://lens.example'],
      visitorId: { kind: 'query', param: 'u' },
      autoTrack: false,
      consent: 'denied',
      respectGpc: true,
      spanBatchDelayMs: 1000,
      metricIntervalMs: 10_000,
    });
  });
});

describe('consent options', () => {
  it('refuses an unknown data-consent value, naming the option', () => {
    expect(() => configFromDataset({ consent: 'maybe' })).toThrow(/^Configuration: data-consent is invalid, expected granted, pending or denied \(actual: maybe\)/);
  });
});

describe('recommendationsRequestUrl', () => {
  it.each([
    ['an absolute URL of the team\'s service', 'https://recs.example/api/recs?site=blog', 'https://recs.example/api/recs?site=blog&userId=u+1&limit=4'],
    ['a URL relative to the page', '/api/my-recs', 'https://news.example/api/my-recs?userId=u+1&limit=4'],
  ])('asks %s with the visitor and the limit', (_label, url, expected) => {
    expect(recommendationsRequestUrl(url, 'u 1', 4, 'https://news.example/articles/a1')).toBe(expected);
  });
});
