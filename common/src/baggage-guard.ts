/**
 * The baggage guard: which baggage entries may leave a process or be read from a request.
 * Pure and dependency-free so that the server and the browser SDK use the same rules.
 */

/** Limits on what baggage may carry. */
export interface BaggageGuardConfig {
  /** Keys that may be sent or read; anything else is dropped. */
  readonly allowedKeys: ReadonlySet<string>;
  /** Most entries kept (default 10: the seed article's "five to ten experiment keys"). */
  readonly maxItems?: number;
  /** Longest value kept, in characters (default 64: experiment variants are short names). */
  readonly maxValueLength?: number;
}

/** Entries that survived the guard, and why the others did not. */
export interface GuardedBaggage {
  readonly entries: Record<string, string>;
  readonly dropped: readonly { key: string; reason: string }[];
}

const DEFAULT_MAX_ITEMS = 10;
const DEFAULT_MAX_VALUE_LENGTH = 64;
/** W3C Baggage: a baggage-string is at most 8,192 bytes. */
export const W3C_MAX_TOTAL_BYTES = 8192;
/** W3C Baggage: one list-member is at most 4,096 bytes. */
export const W3C_MAX_MEMBER_BYTES = 4096;
/** Keys that name a person; never allowed, whatever the allow-list says. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['user.id', 'user.email', 'user.name', 'enduser.id']);
/** A short token: variant names and cohorts look like this; free text does not. */
const SAFE_VALUE = /^[A-Za-z0-9._-]+$/;
const EMAIL_LIKE = /@/;
/** Seven or more digits in a row looks like an account, phone or card number. */
const LONG_NUMBER = /\d{7,}/;

/** Why a value may not travel in baggage, or undefined when it may. */
export function unsafeValueReason(value: string, maxValueLength = DEFAULT_MAX_VALUE_LENGTH): string | undefined {
  if (value.length === 0) return 'empty value';
  if (value.length > maxValueLength) return `value longer than ${maxValueLength} characters`;
  if (EMAIL_LIKE.test(value)) return 'value looks like an e-mail address';
  if (LONG_NUMBER.test(value)) return 'value looks like a personal number';
  if (!SAFE_VALUE.test(value)) return 'value has characters outside [A-Za-z0-9._-]';
  return undefined;
}

function memberBytes(key: string, value: string): number {
  // Keys and safe values are ASCII, so characters are bytes; `=` joins them.
  return key.length + 1 + value.length;
}

/** Keeps the allow-listed, safe entries within the item and W3C size limits. */
export function guardBaggage(
  entries: Iterable<readonly [string, string]>,
  config: BaggageGuardConfig,
): GuardedBaggage {
  const maxItems = config.maxItems ?? DEFAULT_MAX_ITEMS;
  // A repeated key keeps its last value, as a Map would; limits then apply to distinct keys.
  const latest = new Map<string, string>();
  for (const [key, value] of entries) {
    latest.delete(key);
    latest.set(key, value);
  }
  const kept: Record<string, string> = {};
  const dropped: { key: string; reason: string }[] = [];
  let count = 0;
  let totalBytes = 0;
  for (const [key, value] of latest) {
    if (FORBIDDEN_KEYS.has(key)) {
      dropped.push({ key, reason: 'personal key' });
      continue;
    }
    if (!config.allowedKeys.has(key)) {
      dropped.push({ key, reason: 'key not allow-listed' });
      continue;
    }
    const unsafe = unsafeValueReason(value, config.maxValueLength);
    if (unsafe !== undefined) {
      dropped.push({ key, reason: unsafe });
      continue;
    }
    if (count >= maxItems) {
      dropped.push({ key, reason: `more than ${maxItems} entries` });
      continue;
    }
    const bytes = memberBytes(key, value);
    const separator = count === 0 ? 0 : 1;
    if (bytes > W3C_MAX_MEMBER_BYTES || totalBytes + separator + bytes > W3C_MAX_TOTAL_BYTES) {
      dropped.push({ key, reason: 'W3C baggage size limit' });
      continue;
    }
    kept[key] = value;
    count += 1;
    totalBytes += separator + bytes;
  }
  return { entries: kept, dropped };
}
