// @ts-check
/**
 * The send queue: messages waiting for their acknowledgement, in the order they were queued.
 * Each keeps its client id across every attempt, so a resend after a lost ack finds the stored
 * message instead of posting it again. A port of the Rust SDK's `driver/outbox.rs`.
 */

/** @typedef {import('./types.js').PendingSend} PendingSend */
/** @typedef {import('./types.js').Message} Message */

/**
 * @typedef {object} Outgoing
 * @property {PendingSend} send
 * @property {{resolve: (message: Message) => void, reject: (error: Error) => void} | null} waiter
 * @property {number | null} onWire the request id of the attempt on the wire
 * @property {boolean} attempted ever sent: then it never expires (the server may have it)
 * @property {number} queuedAt
 * @property {number} serverFailures attempts the server failed (`internal` and the like)
 */

/** A message the server failed this many times fails, rather than blocking its chat forever. */
export const MAX_SERVER_FAILURES = 5;

export class Outbox {
  constructor() {
    /** @type {Outgoing[]} */
    this.items = [];
  }

  /** @param {Outgoing} item */
  push(item) {
    this.items.push(item);
  }

  get size() {
    return this.items.length;
  }

  onWire() {
    return this.items.filter((item) => item.onWire !== null).length;
  }

  /**
   * The messages to put on the wire now, up to `room`: per chat the oldest queued one, unless
   * that chat has one on the wire already. One at a time per chat, so that a message refused for
   * now (rate limit) cannot be overtaken: each chat stores them in the order they were queued.
   * @param {number} room
   */
  ready(room) {
    const seen = new Set();
    /** @type {Outgoing[]} */
    const ready = [];
    for (const item of this.items) {
      if (ready.length >= room) break;
      if (seen.has(item.send.chat)) continue;
      seen.add(item.send.chat);
      if (item.onWire === null) ready.push(item);
    }
    return ready;
  }

  /** Remove the message with this client id. @param {string} clientId */
  take(clientId) {
    const index = this.items.findIndex((item) => item.send.clientId === clientId);
    return index < 0 ? null : this.items.splice(index, 1)[0];
  }

  /**
   * Put a message back in line after a failed attempt that may be retried; `counted`: a failure
   * of the server. Whether it may be tried again (false: it failed too often).
   * @param {string} clientId @param {boolean} counted
   */
  retry(clientId, counted) {
    const item = this.items.find((candidate) => candidate.send.clientId === clientId);
    if (!item) return true;
    item.onWire = null;
    if (counted) item.serverFailures += 1;
    return item.serverFailures < MAX_SERVER_FAILURES;
  }

  /** The connection is gone: every attempt on the wire will be made again. */
  disconnected() {
    for (const item of this.items) item.onWire = null;
  }

  /**
   * Remove the messages queued longer than `expiryMs` that were never sent.
   * @param {number} expiryMs @param {number} now
   */
  expire(expiryMs, now) {
    const expired = this.items.filter((item) => !item.attempted && now - item.queuedAt >= expiryMs);
    this.items = this.items.filter((item) => !expired.includes(item));
    return expired;
  }

  drain() {
    const items = this.items;
    this.items = [];
    return items;
  }

  /** @returns {PendingSend[]} */
  snapshot() {
    return this.items.map((item) => copySend(item.send));
  }
}

/** A copy of a queued send (its attachment list too). @param {PendingSend} send @returns {PendingSend} */
export function copySend(send) {
  return send.attachments ? { ...send, attachments: [...send.attachments] } : { ...send };
}

/** A fresh client id: 128 random bits, hex. */
export function newClientId() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
