/**
 * The merge patch that turns one session into another: only the keys whose values changed, nested
 * objects diffed recursively, removed keys as null (a merge cannot delete). `undefined` when nothing
 * changed, so an untouched session costs no write. Applied with the SDK's deep-merging
 * `updateSession`, it leaves keys other writers changed meanwhile alone.
 */
export function sessionPatch(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const old = before[key];
    if (isPlainObject(old) && isPlainObject(value)) {
      const nested = sessionPatch(old, value);
      if (nested) patch[key] = nested;
    } else if (!jsonEqual(old, value)) {
      patch[key] = value;
    }
  }
  for (const [key, value] of Object.entries(before)) {
    if (value !== undefined && (!Object.hasOwn(after, key) || after[key] === undefined)) patch[key] = null;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Equality as JSON sees it (the session is stored as JSON): key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bArray = b as unknown[];
    return a.length === bArray.length && a.every((item, i) => jsonEqual(item, bArray[i]));
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  const aRecord = a as Record<string, unknown>;
  const bRecord = b as Record<string, unknown>;
  const aKeys = Object.keys(aRecord).filter((k) => aRecord[k] !== undefined);
  const bKeys = Object.keys(bRecord).filter((k) => bRecord[k] !== undefined);
  return aKeys.length === bKeys.length && aKeys.every((k) => Object.hasOwn(bRecord, k) && jsonEqual(aRecord[k], bRecord[k]));
}
