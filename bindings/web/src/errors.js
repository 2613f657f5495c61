// @ts-check
/** The client's one error type: a stable machine-readable `code` and a message. */

/**
 * Codes of the client itself; a refusal of the server carries the server's own code
 * (`forbidden`, `not_found`, `invalid_field`, `rate_limited`, ... see docs/PROTOCOL.md). An
 * HTTP refusal (uploads, downloads) also: except a 413, which is `too_large`.
 * @typedef {'transport' | 'timeout' | 'connection_lost' | 'closed' | 'queue_full' | 'invalid_argument' | 'expired' | 'protocol' | 'too_large' | 'unsupported' | string} ErrorCode
 */

export class HelloCodeError extends Error {
  /**
   * @param {ErrorCode} code
   * @param {string} message
   * @param {{retryAfter?: number, server?: boolean, status?: number}} [details]
   *   `retryAfter`: seconds the server asked to wait (on `rate_limited`); `server`: a refusal
   *   of the server (its code), not of the client; `status`: the HTTP status of a refused
   *   upload or download.
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = 'HelloCodeError';
    /** @type {ErrorCode} */
    this.code = code;
    /** @type {number | undefined} */
    this.retryAfter = details.retryAfter;
    /** Whether the server refused the command (then `code` is the server's). */
    this.server = details.server ?? false;
    /** The HTTP status of a refused upload or download (413, 415, ...); absent otherwise. @type {number | undefined} */
    this.status = details.status;
  }
}

/** The server's codes a refusal may carry that are worth retrying: they say nothing of the command. */
const TRANSIENT = new Set(['rate_limited', 'internal', 'unavailable']);

/** The server's codes this client knows (docs/PROTOCOL.md, "Errors"); others count as `internal`. */
const KNOWN = new Set([
  'not_json', 'not_an_object', 'frame_too_large', 'missing_command', 'unknown_command',
  'missing_field', 'invalid_field', 'not_authenticated', 'already_authenticated',
  'invalid_credentials', 'invalid_token', 'validation_failed', 'username_taken', 'forbidden',
  'impersonation', 'not_found', 'wrong_chat', 'rate_limited', 'internal', 'unavailable',
]);

/**
 * A refused send or resume may be tried again: rate limits, failures of the server, and codes
 * newer than this client (a server failure that may pass, as the Rust SDK treats them).
 * @param {HelloCodeError} error
 */
export function isRetryable(error) {
  return error.server && (TRANSIENT.has(error.code) || !KNOWN.has(error.code));
}

/**
 * A refusal about credentials: retrying with them cannot help.
 * @param {HelloCodeError} error
 */
export function isAuthFailure(error) {
  return error.server && ['invalid_credentials', 'invalid_token', 'validation_failed', 'username_taken'].includes(error.code);
}

/**
 * The error of a server's `error` frame.
 * @param {{code?: unknown, message?: unknown, retryAfter?: unknown}} frame
 */
export function fromFrame(frame) {
  const code = typeof frame.code === 'string' ? frame.code : 'internal';
  const message = typeof frame.message === 'string' ? frame.message : 'refused by the server';
  const retryAfter = typeof frame.retryAfter === 'number' ? frame.retryAfter : undefined;
  return new HelloCodeError(code, `refused by the server (${code}): ${message}`, { retryAfter, server: true });
}
