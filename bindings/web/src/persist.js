// @ts-check
/**
 * Persistence for a page that reloads: the token, the position (last delivered seq) of every
 * chat and the queued sends, in a storage the application gives (`get`/`set`/`remove` of
 * strings, such as a wrapper of `localStorage`). A client created again with the same storage
 * resumes every chat from where the last one stopped and resends what it had queued, under the
 * same client ids: nothing is lost, nothing is posted twice.
 */

/** @typedef {import('./types.js').PendingSend} PendingSend */

/**
 * What the client stores strings in.
 * @typedef {object} Storage
 * @property {(key: string) => string | null | undefined} get
 * @property {(key: string, value: string) => void} set
 * @property {(key: string) => void} remove
 */

/**
 * What a previous client left.
 * @typedef {object} Saved
 * @property {string | null} username whose positions and sends these are
 * @property {string | null} token
 * @property {Record<string, number>} positions
 * @property {PendingSend[]} pending
 */

/**
 * A `Storage` over the Web Storage API (`localStorage`, `sessionStorage`).
 * @param {{getItem(key: string): string | null, setItem(key: string, value: string): void, removeItem(key: string): void}} webStorage
 * @returns {Storage}
 */
export function webStorage(webStorage) {
  return {
    get: (key) => webStorage.getItem(key),
    set: (key, value) => webStorage.setItem(key, value),
    remove: (key) => webStorage.removeItem(key),
  };
}

/** A `Storage` in memory (tests; a process that wants to hand state to its next client). @returns {Storage} */
export function memoryStorage() {
  /** @type {Map<string, string>} */
  const values = new Map();
  return {
    get: (key) => values.get(key) ?? null,
    set: (key, value) => void values.set(key, value),
    remove: (key) => void values.delete(key),
  };
}

/** @param {unknown} value @returns {value is PendingSend} */
function isPendingSend(value) {
  if (typeof value !== 'object' || value === null) return false;
  const send = /** @type {Record<string, unknown>} */ (value);
  const attachments = send.attachments;
  const attachmentsOk = attachments === undefined || (Array.isArray(attachments) && attachments.every((id) => typeof id === 'string'));
  return typeof send.clientId === 'string' && typeof send.chat === 'number' && typeof send.text === 'string' && attachmentsOk;
}

export class Persistence {
  /**
   * @param {Storage | undefined} storage nothing is kept without one
   * @param {string} prefix of every key
   */
  constructor(storage, prefix = 'hellocode') {
    this.storage = storage;
    this.keys = {
      username: `${prefix}.username`,
      token: `${prefix}.token`,
      positions: `${prefix}.positions`,
      pending: `${prefix}.pending`,
    };
    /** The last positions written, as JSON: unchanged positions are not written again. */
    this.lastPositions = '';
  }

  /** @returns {Saved} */
  load() {
    const username = this.read(this.keys.username);
    const token = this.read(this.keys.token);
    /** @type {Record<string, number>} */
    const positions = {};
    const parsedPositions = this.parse(this.keys.positions);
    if (typeof parsedPositions === 'object' && parsedPositions !== null && !Array.isArray(parsedPositions)) {
      for (const [chat, seq] of Object.entries(parsedPositions)) {
        if (Number.isSafeInteger(seq)) positions[chat] = seq;
      }
    }
    const parsedPending = this.parse(this.keys.pending);
    const pending = Array.isArray(parsedPending) ? parsedPending.filter(isPendingSend) : [];
    return { username, token, positions, pending };
  }

  /** @param {string} username */
  saveUsername(username) {
    this.write(this.keys.username, username);
  }

  /** @param {string | null} token */
  saveToken(token) {
    this.write(this.keys.token, token);
  }

  /** @param {Record<string, number>} positions */
  savePositions(positions) {
    const text = JSON.stringify(positions);
    if (text === this.lastPositions) return;
    this.lastPositions = text;
    this.write(this.keys.positions, text);
  }

  /** @param {PendingSend[]} pending */
  savePending(pending) {
    this.write(this.keys.pending, pending.length ? JSON.stringify(pending) : null);
  }

  /** Another user's state: forget it. */
  clear() {
    for (const key of Object.values(this.keys)) this.write(key, null);
    this.lastPositions = '';
  }

  /** @param {string} key */
  read(key) {
    if (!this.storage) return null;
    try {
      const value = this.storage.get(key);
      return typeof value === 'string' ? value : null;
    } catch (error) {
      console.warn(`hellocode: cannot read ${key} from the storage`, error);
      return null;
    }
  }

  /** @param {string} key @returns {unknown} */
  parse(key) {
    const text = this.read(key);
    if (text === null) return null;
    try {
      return JSON.parse(text);
    } catch {
      return null; // damaged: as if absent
    }
  }

  /** @param {string} key @param {string | null} value `null` removes it */
  write(key, value) {
    if (!this.storage) return;
    try {
      if (value === null) this.storage.remove(key);
      else this.storage.set(key, value);
    } catch (error) {
      // A full or unavailable storage loses the persistence, not the client.
      console.warn(`hellocode: cannot write ${key} to the storage`, error);
    }
  }
}
