// @ts-check
/** The client's tunables, their defaults, and the protocol's constants it relies on. */

/** The protocol version this client speaks: a chat's events are sequenced items. */
export const PROTOCOL_VERSION = 2;
/** Commands other than sends on the wire at once (a burst of resumes cannot wedge both ends). */
export const COMMANDS_IN_FLIGHT = 64;
/** The server's largest page of the list commands. */
export const LIST_PAGE = 500;
/** The first pause after `rate_limited`, and the longest. */
export const RATE_PAUSE_MS = 250;
export const RATE_PAUSE_MAX_MS = 8000;
/** The longest `retryAfter` honoured (a bound against a confused server). */
export const RETRY_AFTER_MAX_MS = 300_000;
/** How often queued messages are checked for expiry and a silent connection for life. */
export const HOUSEKEEPING_MS = 250;

/**
 * How the client authenticates, normalized.
 * @typedef {{kind: 'token', token: string}
 *   | {kind: 'password', username: string, password: string}
 *   | {kind: 'register' | 'register_or_login', username: string, password: string, email: string}} Credentials
 */

/**
 * @typedef {object} Config
 * @property {number} requestTimeoutMs how long a command waits for its reply (reconnecting included)
 * @property {number} connectTimeoutMs how long one connection attempt (socket and authentication) may take
 * @property {{initialMs: number, maxMs: number, multiplier: number, jitter: number, maxAttempts: number | null}} backoff
 * @property {number} sendQueue most messages waiting to be sent; beyond it `enqueue` fails with `queue_full`
 * @property {number} sendWindow most sends awaiting their acknowledgement at once, across chats
 * @property {number | null} sendExpiryMs a queued message never sent within this fails with `expired`
 * @property {number} eventBacklog events kept for the first subscriber
 * @property {number} keepaliveMs a silent connection is pinged after this long
 * @property {number} closeTimeoutMs how long `close` waits for queued messages
 * @property {number} writeTimeoutMs written bytes still unsent after this long: a dead connection
 */

/** @type {Config} */
export const DEFAULTS = {
  requestTimeoutMs: 15_000,
  connectTimeoutMs: 10_000,
  backoff: { initialMs: 200, maxMs: 30_000, multiplier: 2, jitter: 0.5, maxAttempts: null },
  sendQueue: 1000,
  sendWindow: 32,
  sendExpiryMs: null,
  eventBacklog: 10_000,
  keepaliveMs: 30_000,
  closeTimeoutMs: 5000,
  writeTimeoutMs: 10_000,
};

/**
 * The delay before reconnection attempt `attempt` (0-based), given a random number in [0, 1).
 * @param {Config['backoff']} backoff @param {number} attempt @param {number} random
 */
export function backoffDelay(backoff, attempt, random) {
  const grown = backoff.initialMs * Math.max(backoff.multiplier, 1) ** Math.min(attempt, 64);
  const capped = Math.min(grown, backoff.maxMs);
  const jitter = Math.min(Math.max(backoff.jitter, 0), 1) * Math.min(Math.max(random, 0), 1);
  const delay = capped * (1 - jitter);
  return Number.isFinite(delay) && delay >= 0 ? delay : backoff.maxMs;
}
