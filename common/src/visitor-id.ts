/** What a visitor id may look like, wherever one is read: pure. */

/** Longest visitor id accepted; longer ones are not ids but payloads. */
export const MAX_VISITOR_ID_LENGTH = 128;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** True for an acceptable visitor id: 1 to 128 characters, none of them control characters. */
export function isValidVisitorId(raw: string): boolean {
  return raw.length > 0 && raw.length <= MAX_VISITOR_ID_LENGTH && !CONTROL_CHARACTERS.test(raw);
}
