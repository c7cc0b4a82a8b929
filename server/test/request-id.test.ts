import { describe, expect, it } from 'vitest';
import { newRequestId } from '../src/node/request-id.js';

describe('request ids', () => {
  it('sort by the time they were made, so the store appends them to its index', () => {
    const times = [Date.UTC(2026, 11, 1), Date.UTC(2026, 11, 1) + 1, Date.UTC(2027, 0, 1), Date.UTC(2100, 0, 1)];
    const ids = times.map((t) => newRequestId(t));
    expect([...ids].sort()).toEqual(ids);
    // Reversed input still sorts back to time order.
    expect([...times].reverse().map((t) => newRequestId(t)).sort().map((id) => id.slice(0, 9))).toEqual(ids.map((id) => id.slice(0, 9)));
  });

  it('are URL-safe, of one length, and different within the same millisecond (96 random bits)', () => {
    const now = Date.UTC(2026, 11, 1);
    const ids = Array.from({ length: 1000 }, () => newRequestId(now));
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-z]{9}[A-Za-z0-9_-]{16}$/);
  });
});
