// Substitution and matching of the transcript scenarios, as hellocode_conformance::{substitute,
// matches} and the Python runner do (see bindings/conformance/README.md).

export class StepFailed extends Error {}

/**
 * Replace every string "$name" or "$name.field.field" by what was saved.
 * @param {any} value @param {Record<string, any>} saved
 * @returns {any}
 */
export function substitute(value, saved) {
  if (typeof value === 'string' && value.startsWith('$')) {
    const [name, ...path] = value.slice(1).split('.');
    if (!(name in saved)) throw new StepFailed(`nothing saved as ${name}`);
    let found = saved[name];
    for (const part of path) {
      if (Array.isArray(found) && /^\d+$/.test(part) && Number(part) < found.length) {
        found = found[Number(part)];
      } else if (isObject(found) && part in found) {
        found = found[part];
      } else {
        throw new StepFailed(`${value}: no field ${part}`);
      }
    }
    return found;
  }
  if (Array.isArray(value)) return value.map((item) => substitute(item, saved));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, saved)]));
  }
  return value;
}

/** @param {any} value @returns {value is Record<string, any>} */
function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * null if `actual` has everything `expected` says, else why not.
 * @param {any} expected @param {any} actual
 * @returns {string | null}
 */
export function mismatch(expected, actual) {
  if (expected === '*') return actual === undefined ? 'missing' : null;
  if (isObject(expected) && '$contains' in expected && Array.isArray(actual)) {
    const items = expected.$contains;
    if (!Array.isArray(items)) return '$contains takes a list';
    for (const item of items) {
      if (actual.every((candidate) => mismatch(item, candidate) !== null)) {
        return `no item matching ${JSON.stringify(item)} in ${JSON.stringify(actual)}`;
      }
    }
    return null;
  }
  if (isObject(expected) && isObject(actual)) {
    for (const [key, want] of Object.entries(expected)) {
      if (!(key in actual)) return `missing ${JSON.stringify(key)} in ${JSON.stringify(actual)}`;
      const why = mismatch(want, actual[key]);
      if (why !== null) return `${key}: ${why}`;
    }
    return null;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (expected.length !== actual.length) {
      return `${expected.length} items expected, got ${actual.length}: ${JSON.stringify(actual)}`;
    }
    for (let index = 0; index < expected.length; index++) {
      const why = mismatch(expected[index], actual[index]);
      if (why !== null) return `[${index}]: ${why}`;
    }
    return null;
  }
  const same =
    typeof expected === 'number' && typeof actual === 'number'
      ? expected === actual
      : typeof expected === typeof actual && (expected === actual || (expected === null && actual === null));
  return same ? null : `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/**
 * null if `actual` has none of `unwanted` (keys of an object, each value as a string; items of
 * a list, by matching), else why not.
 * @param {any[]} unwanted @param {any} actual
 * @returns {string | null}
 */
export function lacks(unwanted, actual) {
  for (const value of unwanted) {
    let found;
    if (isObject(actual)) {
      found = (typeof value === 'string' ? value : JSON.stringify(value)) in actual;
    } else if (Array.isArray(actual)) {
      found = actual.some((item) => mismatch(value, item) === null);
    } else {
      return `\`lacks\` needs an object or a list, got ${JSON.stringify(actual)}`;
    }
    if (found) return `${JSON.stringify(value)} should not be in ${JSON.stringify(actual)}`;
  }
  return null;
}
