/**
 * Delivery between the OpenTelemetry exporters and the network: consent (hold while
 * pending, drop when denied), and every batch written to localStorage before it is sent
 * and removed once it got through, so a batch whose page went away first — a click that
 * navigates while the endpoint is down, or a keepalive send whose answer the page never
 * saw — is sent again from the next page of the visit. The collector stores a resent span,
 * and a resent metric point, once.
 */
import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { readJson, writeJson } from './storage.js';

/** Whether telemetry may leave the browser. */
export type Consent = 'granted' | 'pending' | 'denied';

/** The exporter shape shared by span and metric exporters. */
export interface Exporter<T> {
  export(items: T, resultCallback: (result: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

const logger = diag.createComponentLogger({ namespace: 'variant-lens/delivery' });
/** Each unsent batch under a key of its own: `variant-lens.unsent:<id>`. */
const UNSENT_PREFIX = 'variant-lens.unsent:';
/** localStorage kept for unsent batches: enough for a page's worth of clicks, small beside the 5 MB quota. */
const MAX_UNSENT_CHARS = 256 * 1024;
/** Batches held while consent is pending; older ones give way. */
const MAX_HELD_BATCHES = 50;
/** A keepalive request may carry at most 64 KiB (all pending keepalive requests together). */
export const KEEPALIVE_BUDGET_BYTES = 60 * 1024;

/** An OTLP/JSON body on its way (or that did not get through), and where it was going. */
interface UnsentBatch {
  readonly id: string;
  readonly url: string;
  readonly body: string;
}

/**
 * The visit's batches not known to be delivered, in localStorage, bounded. Each batch has a key
 * of its own, written once and removed once: the tabs of a visit each see localStorage a
 * moment late, and one array that each read, changed and wrote back lost the batch another tab
 * had just added (a click, when its middle click opened the next tab).
 */
export class UnsentStore {
  /** The batches this page wrote: its own exports handle them, not `fromEarlierPages`. */
  private readonly own = new Set<string>();

  constructor(private readonly storage: Storage | undefined) {}

  /** Keeps a batch (the oldest give way beyond the bound) and returns its id. */
  save(url: string, body: string): string {
    const id = `${Date.now()}:${Math.random()}`;
    this.own.add(id);
    writeJson(this.storage, UNSENT_PREFIX + id, { url, body });
    let size = 0;
    for (const batch of this.all().reverse()) if ((size += batch.body.length) > MAX_UNSENT_CHARS) this.remove(batch.id);
    return id;
  }

  /** Forgets a batch that got through. */
  remove(id: string): void {
    this.own.delete(id);
    writeJson(this.storage, UNSENT_PREFIX + id, undefined);
  }

  /** The batches that earlier pages (or other tabs) of the visit left behind. */
  fromEarlierPages(): UnsentBatch[] {
    return this.all().filter((b) => !this.own.has(b.id));
  }

  /** Every batch kept, oldest first (ids begin with the time they were made). */
  private all(): UnsentBatch[] {
    const storage = this.storage;
    const batches: UnsentBatch[] = [];
    try {
      for (let i = 0; i < storage!.length; i += 1) {
        const key = storage!.key(i)!;
        const kept = key.startsWith(UNSENT_PREFIX) && readJson<UnsentBatch | null>(storage, key, null);
        if (kept && typeof kept.body === 'string') batches.push({ ...kept, id: key.slice(UNSENT_PREFIX.length) });
      }
    } catch {
      // No storage, or storage that fails while read (revoked, corrupt): what was read so far.
    }
    return batches.sort((a, b) => parseInt(a.id) - parseInt(b.id));
  }
}

/** Sends one stored batch; the fetch is the uninstrumented one, so no span is made of it. */
export async function resend(batch: UnsentBatch, fetchImpl: typeof fetch): Promise<boolean> {
  try {
    const response = await fetchImpl(batch.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: batch.body,
      keepalive: batch.body.length < KEEPALIVE_BUDGET_BYTES,
    });
    return response.ok || (response.status >= 400 && response.status < 500 && response.status !== 429);
  } catch {
    return false;
  }
}

/** Wraps an exporter with the consent switch and the unsent-batch store. */
export class DeliveryGate<T> implements Exporter<T> {
  private held: T[] = [];

  constructor(
    private readonly inner: Exporter<T>,
    private readonly url: string,
    private readonly serialize: (items: T) => string | undefined,
    private readonly unsent: UnsentStore,
    private consent: () => Consent,
  ) {}

  export(items: T, resultCallback: (result: ExportResult) => void): void {
    const consent = this.consent();
    if (consent === 'denied') {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    if (consent === 'pending') {
      this.held.push(items);
      if (this.held.length > MAX_HELD_BATCHES) this.held.shift();
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    this.send(items, resultCallback);
  }

  private send(items: T, resultCallback: (result: ExportResult) => void): void {
    // Written ahead: if the page goes away before the answer, the next page sends it again.
    const id = this.keep(items);
    try {
      this.inner.export(items, (result) => {
        if (result.code === ExportResultCode.SUCCESS && id !== undefined) this.unsent.remove(id);
        resultCallback(result);
      });
    } catch (error) {
      logger.warn('export failed', error);
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  private keep(items: T): string | undefined {
    try {
      const body = this.serialize(items);
      return body === undefined ? undefined : this.unsent.save(this.url, body);
    } catch (error) {
      logger.warn('could not keep a batch', error);
      return undefined;
    }
  }

  /** Consent changed: send what was held, or forget it. */
  consentChanged(): void {
    const held = this.held;
    this.held = [];
    if (this.consent() === 'granted') for (const items of held) this.send(items, () => {});
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
