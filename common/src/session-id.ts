/**
 * The visit's `session.id` as it travels from the browser SDK to a recommendation server (in
 * baggage) and back on the browser's spans (on the resource): a random token per tab, which
 * says nothing about the person. Servers record it on the request they serve; a click from
 * another session does not count for that request.
 */

/** A session id: 8 to 64 characters of [A-Za-z0-9_-] (the SDK's are 32 hex digits). */
const SESSION_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** True when `value` has the shape of a session id; anything else is not recorded. */
export function isSessionId(value: unknown): value is string {
  return typeof value === 'string' && SESSION_ID.test(value);
}
