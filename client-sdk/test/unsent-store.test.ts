/**
 * The unsent-batch store shared by the tabs of a visit. Chromium gives each tab its own view of
 * localStorage and passes every change to the others a moment later, key by key, the last
 * write winning: `TabStorage` is that model, so two tabs can be made to write before either
 * has seen the other's write, as a middle click opening an article does.
 */
import { describe, expect, it } from 'vitest';
import { UnsentStore } from '../src/delivery-gate.js';

/** One tab's localStorage: its own copy, with the changes it made not yet passed on. */
class TabStorage implements Storage {
  private readonly items = new Map<string, string>();
  private readonly outbox: [string, string | null][] = [];

  get length(): number {
    return this.items.size;
  }
  key(index: number): string | null {
    return [...this.items.keys()][index] ?? null;
  }
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
    this.outbox.push([key, String(value)]);
  }
  removeItem(key: string): void {
    this.items.delete(key);
    this.outbox.push([key, null]);
  }
  clear(): void {
    for (const key of [...this.items.keys()]) this.removeItem(key);
  }
  /** Passes this tab's changes on to `other`, key by key, as the browser does. */
  propagateTo(other: TabStorage): void {
    for (const [key, value] of this.outbox.splice(0)) {
      if (value === null) other.items.delete(key);
      else other.items.set(key, value);
    }
  }
}

const URL = 'https://collector.example/v1/traces';

describe('UnsentStore in two tabs of a visit', () => {
  it('keeps the batches both tabs wrote before either saw the other\'s: the click survives the new tab\'s write', () => {
    const first = new TabStorage();
    const second = new TabStorage();
    const firstTab = new UnsentStore(first);
    firstTab.save(URL, '{"views":1}');
    first.propagateTo(second);
    // The click in the first tab, and the new tab's first batch, written at once.
    firstTab.save(URL, '{"click":1}');
    const secondTab = new UnsentStore(second);
    secondTab.save(URL, '{"views":2}');
    first.propagateTo(second);
    second.propagateTo(first);
    const third = new UnsentStore(first);
    expect(third.fromEarlierPages().map((b) => b.body).sort()).toEqual(['{"click":1}', '{"views":1}', '{"views":2}']);
    expect(new UnsentStore(second).fromEarlierPages().map((b) => b.body).sort()).toEqual(['{"click":1}', '{"views":1}', '{"views":2}']);
  });

  it('forgets a delivered batch in every tab, and hands another page only batches it did not write itself', () => {
    const storage = new TabStorage();
    const page = new UnsentStore(storage);
    const delivered = page.save(URL, '{"a":1}');
    page.save(URL, '{"b":2}');
    expect(page.fromEarlierPages()).toEqual([]);
    page.remove(delivered);
    const next = new UnsentStore(storage);
    expect(next.fromEarlierPages().map((b) => [b.url, b.body])).toEqual([[URL, '{"b":2}']]);
  });

  it('keeps at most 256 KiB, the oldest giving way', () => {
    const storage = new TabStorage();
    const page = new UnsentStore(storage);
    const big = 'x'.repeat(100 * 1024);
    for (const n of [1, 2, 3]) page.save(URL, `{"n":${n},"pad":"${big}"}`);
    const kept = new UnsentStore(storage).fromEarlierPages().map((b) => JSON.parse(b.body).n);
    expect(kept).toEqual([2, 3]);
  });

  it('never throws into the page: storage that fails while read gives what was read, and a kept value not of its shape is passed over', () => {
    const storage = new TabStorage();
    const page = new UnsentStore(storage);
    page.save(URL, '{"a":1}');
    storage.setItem('variant-lens.unsent:1764900000000:0.1', JSON.stringify({ url: URL }));
    storage.setItem('variant-lens.unsent:1764900000000:0.2', 'not json');
    expect(new UnsentStore(storage).fromEarlierPages().map((b) => b.body)).toEqual(['{"a":1}']);
    storage.key = () => {
      throw new Error('NS_ERROR_FILE_CORRUPTED');
    };
    expect(new UnsentStore(storage).fromEarlierPages()).toEqual([]);
    expect(() => page.save(URL, '{"b":2}')).not.toThrow();
    expect(new UnsentStore(undefined).fromEarlierPages()).toEqual([]);
  });
});
