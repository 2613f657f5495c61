// @ts-check
/**
 * The client's protocol state and its one WebSocket, after the Rust SDK's `driver/session.rs`:
 * connecting and authenticating, the reconnection backoff, replies matched to requests by id,
 * the send queue, per-chat order and resume, pauses after `rate_limited`, keepalive, and close.
 * JavaScript runs one thing at a time, so the IO lives here too: every input (a frame, a socket
 * event, a timer, a call of the application) updates the state, then `flush` writes what may go.
 */

import { Chats } from './chats.js';
import { HelloCodeError, fromFrame, isAuthFailure, isRetryable } from './errors.js';
import { EventHub } from './events.js';
import { Outbox } from './outbox.js';
import { Persistence } from './persist.js';

/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').PendingSend} PendingSend */
/** @typedef {import('./types.js').HelloCodeEvent} HelloCodeEvent */
/** @typedef {import('./types.js').ConnectionState} ConnectionState */
/** @typedef {import('./outbox.js').Outgoing} Outgoing */
/** @typedef {Record<string, any>} Frame a JSON object of the protocol */

/** The protocol version this client speaks: a chat's events are sequenced items. */
export const PROTOCOL_VERSION = 2;
/** Commands other than sends on the wire at once (a burst of resumes cannot wedge both ends). */
const COMMANDS_IN_FLIGHT = 64;
/** The server's largest page of the list commands. */
export const LIST_PAGE = 500;
/** The first pause after `rate_limited`, and the longest. */
const RATE_PAUSE_MS = 250;
const RATE_PAUSE_MAX_MS = 8000;
/** The longest `retryAfter` honoured (a bound against a confused server). */
const RETRY_AFTER_MAX_MS = 300_000;
/** How often queued messages are checked for expiry and a silent connection for life. */
const HOUSEKEEPING_MS = 250;

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

/**
 * A request not yet answered.
 * @typedef {object} Waiting
 * @property {Frame} command without its id
 * @property {boolean} retry safe to send again after a lost connection
 * @property {number} order when it was asked (requests go out in order)
 * @property {(frame: Frame) => void} resolve
 * @property {(error: HelloCodeError) => void} reject
 * @property {boolean} settled answered, or given up by its caller (timed out)
 */

/**
 * A command on the wire, awaiting its reply.
 * @typedef {{type: 'request', waiting: Waiting}
 *   | {type: 'send', clientId: string}
 *   | {type: 'resume', chat: number}
 *   | {type: 'sync'}
 *   | {type: 'keepalive'}} Pending
 */

/**
 * Which authentication command is on the wire.
 * @typedef {{name: 'first', withToken: boolean} | {name: 'relogin'} | {name: 'register', loginRefused: HelloCodeError}} Step
 */

/**
 * Where the session is in a connection's life.
 * @typedef {{name: 'backoff', attempt: number}
 *   | {name: 'connecting', attempt: number}
 *   | {name: 'handshake', attempt: number, id: number, step: Step}
 *   | {name: 'first_sync'}
 *   | {name: 'ready'}
 *   | {name: 'stopped'}} Phase
 */

/**
 * The paged chat list being fetched after a (re)connection.
 * @typedef {object} ChatListSync
 * @property {boolean} needed a page should be asked for
 * @property {Chat[]} pages the pages received so far
 * @property {number | null} after where the next page starts
 */

/**
 * @typedef {object} SessionOptions
 * @property {string} url
 * @property {Credentials | null} credentials null: the token in the storage
 * @property {typeof WebSocket} WebSocket
 * @property {Config} config
 * @property {import('./persist.js').Storage} [storage]
 * @property {string} [storagePrefix]
 */

export class Session {
  /** @param {SessionOptions} options */
  constructor(options) {
    this.url = options.url;
    this.WebSocket = options.WebSocket;
    this.config = options.config;
    this.events = new EventHub(this.config.eventBacklog);
    this.persistence = new Persistence(options.storage, options.storagePrefix);
    this.saved = this.persistence.load();
    /** @type {string | null} */
    this.token = null;
    /** @type {Credentials} */
    this.credentials = this.initialCredentials(options.credentials);
    /** @type {ConnectionState} */
    this.state = 'connecting';
    /** The last connection event (why the client is reconnecting or closed). @type {import('./types.js').ConnectionEvent} */
    this.connection = { kind: 'connection', state: 'connecting' };
    this.username = '';
    /** @type {Phase} */
    this.phase = { name: 'connecting', attempt: 0 };
    /** Not ready yet for the first time: a failure now ends the client (`connect` rejects). */
    this.first = true;
    /** @type {WebSocket | null} */
    this.socket = null;
    /** Counts sockets, so that events of a socket given up are ignored. */
    this.generation = 0;
    this.nextId = 1;
    this.nextOrder = 0;
    /** @type {Map<number, Pending>} */
    this.inFlight = new Map();
    /** @type {Waiting[]} requests not on the wire, by order */
    this.waiting = [];
    this.outbox = new Outbox();
    this.chats = new Chats();
    /** @type {ChatListSync} */
    this.sync = { needed: false, pages: [], after: null };
    /** @type {number | null} */
    this.pausedUntil = null;
    this.ratePause = RATE_PAUSE_MS;
    /** @type {{waiters: (() => void)[], deadline: number, keepPending: boolean} | null} */
    this.closing = null;
    /** When the keepalive ping on the wire was sent. @type {number | null} */
    this.probe = null;
    /** When the last reply arrived (events do not count). */
    this.lastReply = Date.now();
    /** Since when written bytes wait in the socket's buffer. @type {number | null} */
    this.bufferedSince = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    /** @type {ReturnType<typeof setInterval> | null} */
    this.housekeeping = null;
    /** @type {number | null} when the connection being established times out */
    this.establishDeadline = null;
    /** @type {number | null} when the backoff ends */
    this.backoffUntil = null;
    /** Settles the first connection. */
    /** @type {{resolve: () => void, reject: (error: HelloCodeError) => void} | null} */
    this.starting = null;
    this.random = Math.random;
  }

  /** @param {Credentials | null} given @returns {Credentials} */
  initialCredentials(given) {
    const saved = this.saved;
    if (!given) {
      if (!saved.token) throw new HelloCodeError('invalid_argument', 'no credentials, and no token in the storage');
      this.token = saved.token;
      return { kind: 'token', token: saved.token };
    }
    if (given.kind === 'token') {
      this.token = given.token;
    } else if (saved.token && saved.username === given.username) {
      // The token of an earlier session of this user; the password if it no longer works.
      this.token = saved.token;
    }
    return given;
  }

  /** Connect for the first time: resolves once authenticated and the chat list is known. */
  start() {
    /** @type {Promise<void>} */
    const started = new Promise((resolve, reject) => {
      this.starting = { resolve, reject };
    });
    this.housekeeping = setInterval(() => this.onHousekeeping(), HOUSEKEEPING_MS);
    this.connect(0);
    return started;
  }

  // ---- the application's side ----

  /**
   * Send a command and wait for its reply, within the request timeout.
   * @param {Frame} command @param {boolean} retry safe to send again after a lost connection
   * @returns {Promise<Frame>}
   */
  request(command, retry) {
    if (this.closing || this.phase.name === 'stopped') {
      return Promise.reject(new HelloCodeError('closed', 'the client is closed'));
    }
    return new Promise((resolve, reject) => {
      const limit = this.config.requestTimeoutMs;
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      /** @type {Waiting} */
      const waiting = {
        command,
        retry,
        order: this.nextOrder++,
        settled: false,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      timer = setTimeout(() => {
        if (waiting.settled) return;
        waiting.settled = true; // not sent if still waiting; its reply is ignored if it comes
        this.waiting = this.waiting.filter((other) => other !== waiting);
        reject(new HelloCodeError('timeout', `no reply within ${limit} ms`));
      }, limit);
      this.insertWaiting(waiting);
      this.flush();
    });
  }

  /**
   * Queue a message (already checked by the client).
   * @param {PendingSend} send
   * @param {Outgoing['waiter']} waiter
   */
  enqueue(send, waiter) {
    if (this.closing || this.phase.name === 'stopped') {
      throw new HelloCodeError('closed', 'the client is closed');
    }
    if (this.outbox.size >= this.config.sendQueue) {
      throw new HelloCodeError('queue_full', `the send queue is full (${this.outbox.size} messages waiting)`);
    }
    this.queue(send, waiter);
    this.flush();
  }

  /** @param {PendingSend} send @param {Outgoing['waiter']} waiter */
  queue(send, waiter) {
    this.emit({ kind: 'pending', send: { ...send } });
    this.outbox.push({ send, waiter, onWire: null, attempted: false, queuedAt: Date.now(), serverFailures: 0 });
    this.persistence.savePending(this.outbox.snapshot());
  }

  /**
   * Wait (up to `closeTimeoutMs`) for queued messages, then stop. `keepPending`: a page going
   * away — what is queued stays in the storage for the next client instead of failing there.
   * @param {{keepPending?: boolean}} [options]
   * @returns {Promise<void>}
   */
  close(options = {}) {
    if (this.phase.name === 'stopped') return Promise.resolve();
    return new Promise((resolve) => {
      if (!this.closing) {
        const keepPending = options.keepPending ?? false;
        this.closing = { waiters: [], deadline: Date.now() + this.config.closeTimeoutMs, keepPending };
      } else if (options.keepPending) {
        this.closing.keepPending = true;
      }
      this.closing.waiters.push(resolve);
      if (this.phase.name !== 'ready' || this.closing.keepPending) {
        // No connection to flush the queue on (or no flushing wanted).
        this.stop(null);
      } else {
        this.flush();
      }
    });
  }

  // ---- connections ----

  /** Open a socket for attempt `attempt` (0: the first connection). @param {number} attempt */
  connect(attempt) {
    this.phase = { name: 'connecting', attempt };
    this.backoffUntil = null;
    this.establishDeadline = Date.now() + this.config.connectTimeoutMs;
    this.schedule();
    const generation = ++this.generation;
    /** @type {WebSocket} */
    let socket;
    try {
      socket = new this.WebSocket(this.url);
    } catch (error) {
      this.lose(new HelloCodeError('invalid_url', `cannot open ${this.url}: ${describe(error)}`));
      return;
    }
    this.socket = socket;
    this.bufferedSince = null;
    const current = () => generation === this.generation && this.socket === socket;
    socket.addEventListener('open', () => {
      if (current()) this.onOpen();
    });
    socket.addEventListener('message', (event) => {
      if (current()) this.onText(event.data);
    });
    socket.addEventListener('close', (event) => {
      if (current()) this.onClose(event.code, event.reason);
    });
    socket.addEventListener('error', () => {
      // A 'close' event follows; nothing to do until then.
    });
  }

  onOpen() {
    if (this.phase.name !== 'connecting') return;
    this.lastReply = Date.now();
    this.startHandshake(this.phase.attempt);
    this.flush();
  }

  /** @param {number} code @param {string} reason */
  onClose(code, reason) {
    this.socket = null;
    const error =
      code === 4001
        ? new HelloCodeError('invalid_token', `the server closed the connection: ${reason || 'unauthorized'}`, { server: true })
        : new HelloCodeError('transport', `the connection closed (${code}${reason ? `: ${reason}` : ''})`);
    this.lose(error, false);
  }

  /**
   * The connection failed or was judged dead (`drop`: close the socket).
   * @param {HelloCodeError} error @param {boolean} [drop]
   */
  lose(error, drop = true) {
    const phase = this.phase;
    if (phase.name === 'stopped' || phase.name === 'backoff') return;
    if (drop) this.dropSocket();
    const wasReady = phase.name === 'ready';
    const attempt = phase.name === 'connecting' || phase.name === 'handshake' ? phase.attempt : 0;
    this.disconnected();
    if (this.first) {
      this.stop(error); // the first connection failed: `connect` rejects with why
      return;
    }
    if (wasReady) {
      if (error.code === 'invalid_token') {
        // Closed with 4001: the token is dead; never reconnect with it. With a password the
        // client logs in again, else the application must.
        this.setToken(null);
        if (this.credentials.kind === 'token') {
          this.stop(error);
          return;
        }
      }
    } else if (isAuthFailure(error)) {
      this.stop(error);
      return;
    }
    this.backoff(attempt, error);
  }

  /** Wait before reconnection attempt `attempt + 1`, or give up. @param {number} attempt @param {HelloCodeError} error */
  backoff(attempt, error) {
    if (this.closing) {
      this.stop(null); // closing and the connection is gone: nothing more can be flushed
      return;
    }
    const max = this.config.backoff.maxAttempts;
    if (max !== null && attempt >= max) {
      this.stop(error);
      return;
    }
    const delayMs = backoffDelay(this.config.backoff, attempt, this.random());
    this.phase = { name: 'backoff', attempt: attempt + 1 };
    this.backoffUntil = Date.now() + delayMs;
    this.setState('reconnecting', { attempt: attempt + 1, delayMs, error });
    this.schedule();
  }

  /** Everything on the wire is gone with the connection. */
  disconnected() {
    for (const pending of this.inFlight.values()) {
      if (pending.type !== 'request' || pending.waiting.settled) continue;
      if (pending.waiting.retry) {
        this.insertWaiting(pending.waiting);
      } else {
        pending.waiting.settled = true;
        pending.waiting.reject(
          new HelloCodeError('connection_lost', 'the connection was lost before the reply; the command may or may not have taken effect'),
        );
      }
    }
    this.inFlight.clear();
    this.outbox.disconnected();
    this.chats.disconnected();
    this.sync = { needed: false, pages: [], after: null };
    this.pausedUntil = null;
    this.probe = null;
    this.establishDeadline = null;
  }

  dropSocket() {
    const socket = this.socket;
    this.socket = null;
    this.generation += 1;
    if (socket) {
      try {
        socket.close();
      } catch {
        // closing a socket that is already gone
      }
    }
  }

  /** @param {HelloCodeError | null} error */
  stop(error) {
    if (this.phase.name === 'stopped') return;
    this.phase = { name: 'stopped' };
    this.dropSocket();
    this.finish(error);
  }

  /** Stopped: fail what is left, report the end. @param {HelloCodeError | null} error */
  finish(error) {
    const reason = error ?? new HelloCodeError('closed', 'the client is closed');
    const keepPending = this.closing?.keepPending ?? false;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.housekeeping !== null) clearInterval(this.housekeeping);
    this.timer = null;
    this.housekeeping = null;
    for (const item of this.outbox.drain()) this.settleSend(item, null, reason, !keepPending);
    if (!keepPending) this.persistence.savePending([]);
    for (const waiting of this.waiting) this.settle(waiting, null, reason);
    this.waiting = [];
    for (const pending of this.inFlight.values()) {
      if (pending.type === 'request') this.settle(pending.waiting, null, reason);
    }
    this.inFlight.clear();
    if (this.starting) {
      this.starting.reject(reason);
      this.starting = null;
    }
    this.setState('closed', { error });
    this.events.end();
    const waiters = this.closing?.waiters ?? [];
    this.closing = null;
    for (const waiter of waiters) waiter();
  }

  // ---- authentication ----

  /** Put the first authentication command on the wire. @param {number} attempt */
  startHandshake(attempt) {
    const credentials = this.credentials;
    if (this.token !== null) {
      this.sendHandshake(attempt, { name: 'first', withToken: true }, { command: 'auth', token: this.token });
    } else if (credentials.kind === 'token') {
      this.sendHandshake(attempt, { name: 'first', withToken: true }, { command: 'auth', token: credentials.token });
    } else if (credentials.kind === 'register') {
      this.sendHandshake(attempt, { name: 'first', withToken: false }, registerFrame(credentials));
    } else {
      this.sendHandshake(attempt, { name: 'first', withToken: false }, loginFrame(credentials));
    }
  }

  /** @param {number} attempt @param {Step} step @param {Frame} command */
  sendHandshake(attempt, step, command) {
    const id = this.nextId++;
    this.phase = { name: 'handshake', attempt, id, step };
    this.write({ ...command, id, protocol: PROTOCOL_VERSION });
  }

  /** The reply to the authentication command. @param {Frame} frame */
  onHandshakeReply(frame) {
    const phase = this.phase;
    if (phase.name !== 'handshake') return;
    const { attempt, step } = phase;
    this.phase = { name: 'connecting', attempt };
    if (frame.command === 'authenticated') {
      this.authenticated(String(frame.username), typeof frame.token === 'string' ? frame.token : null);
      return;
    }
    if (frame.command !== 'error') {
      this.lose(new HelloCodeError('protocol', `expected \`authenticated\`, got \`${frame.command}\``));
      return;
    }
    const refusal = fromFrame(frame);
    const credentials = this.credentials;
    if (step.name === 'first' && step.withToken && refusal.code === 'invalid_token' && credentials.kind !== 'token') {
      // The token expired: log in again.
      this.setToken(null);
      this.sendHandshake(attempt, { name: 'relogin' }, loginFrame(credentials));
    } else if (step.name === 'first' && !step.withToken && refusal.code === 'invalid_credentials' && credentials.kind === 'register_or_login') {
      // No such account, or another password: registering tells which.
      this.sendHandshake(attempt, { name: 'register', loginRefused: refusal }, registerFrame(credentials));
    } else if (step.name === 'register' && refusal.code === 'username_taken') {
      this.lose(step.loginRefused); // the account exists, so the login's refusal stands
    } else {
      this.lose(refusal);
    }
  }

  /** @param {string} username @param {string | null} token */
  authenticated(username, token) {
    if (token !== null) this.setToken(token);
    const credentials = this.credentials;
    if (credentials.kind === 'register' || credentials.kind === 'register_or_login') {
      // Registered (or found) once; from now on this account logs in.
      this.credentials = { kind: 'password', username: credentials.username, password: credentials.password };
    }
    this.username = username;
    if (this.first) {
      this.restore(username);
      // Knowing the chats before `connect` resolves fixes where each starts.
      this.phase = { name: 'first_sync' };
      this.sync.needed = true;
    } else {
      this.becomeReady();
    }
  }

  /**
   * The first authentication: take over what a previous client of this user left in the
   * storage (positions to resume from, sends to make), or clear another user's.
   * @param {string} username
   */
  restore(username) {
    const saved = this.saved;
    if (saved.username !== null && saved.username !== username) {
      const token = this.token;
      this.persistence.clear();
      this.setToken(token);
    } else {
      this.chats = new Chats(saved.positions);
      for (const send of saved.pending) {
        if (this.outbox.size < this.config.sendQueue) this.queue(send, null);
      }
    }
    this.persistence.saveUsername(username);
  }

  becomeReady() {
    // After a reconnection the chat list is fetched again (what changed while away).
    this.sync.needed = !this.first;
    this.phase = { name: 'ready' };
    this.establishDeadline = null;
    this.ratePause = RATE_PAUSE_MS;
    this.lastReply = Date.now();
    this.probe = null;
    this.setState('connected', { username: this.username });
    if (this.first) {
      this.first = false;
      const starting = this.starting;
      this.starting = null;
      starting?.resolve();
    }
  }

  /** @param {string | null} token */
  setToken(token) {
    this.token = token;
    this.persistence.saveToken(token);
  }

  // ---- frames from the server ----

  /** @param {unknown} data */
  onText(data) {
    const phase = this.phase.name;
    if (phase === 'backoff' || phase === 'connecting' || phase === 'stopped') return;
    /** @type {unknown} */
    let frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch {
      return; // not JSON: nothing to act on
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return;
    const object = /** @type {Frame} */ (frame);
    if (typeof object.id === 'number') {
      this.onReply(object.id, object);
    } else if (object.command === 'error' && (object.id === undefined || object.id === null)) {
      this.onOldest(object);
    } else if (object.id === undefined) {
      this.onEvent(object);
    }
    this.savePositions();
    this.flush();
  }

  /**
   * An error the server could not attach an id to (the frame was refused before it was read):
   * replies come in command order, so it answers the oldest command on the wire.
   * @param {Frame} frame
   */
  onOldest(frame) {
    if (this.phase.name === 'handshake') {
      this.onReply(this.phase.id, frame);
      return;
    }
    const oldest = Math.min(...this.inFlight.keys());
    if (Number.isFinite(oldest)) this.onReply(oldest, frame);
  }

  /** @param {number} id @param {Frame} frame */
  onReply(id, frame) {
    if (this.phase.name === 'handshake' && this.phase.id === id) {
      this.lastReply = Date.now();
      this.onHandshakeReply(frame);
      return;
    }
    const pending = this.inFlight.get(id);
    if (!pending) return;
    this.inFlight.delete(id);
    this.lastReply = Date.now();
    const error = frame.command === 'error' ? fromFrame(frame) : null;
    const rateLimited = error?.code === 'rate_limited';
    if (rateLimited) this.pause(error?.retryAfter);
    else if (!error) this.ratePause = RATE_PAUSE_MS;
    switch (pending.type) {
      case 'request':
        if (pending.waiting.settled) break;
        if (rateLimited) this.insertWaiting(pending.waiting); // again after the pause
        else this.settle(pending.waiting, error ? null : frame, error);
        break;
      case 'send':
        this.onSendReply(pending.clientId, frame, error);
        break;
      case 'resume':
        if (frame.command === 'resumed' && Array.isArray(frame.messages)) {
          /** @type {HelloCodeEvent[]} */
          const out = [];
          this.chats.resumed(pending.chat, frame.messages, frame.more === true, out);
          this.deliver(out);
        } else {
          const retry = error !== null && isRetryable(error);
          if (retry) this.pause(error?.retryAfter);
          this.chats.resumeFailed(pending.chat, retry);
        }
        break;
      case 'sync':
        this.onChatList(frame, error);
        break;
      case 'keepalive':
        this.probe = null;
        break;
    }
  }

  /** @param {string} clientId @param {Frame} frame @param {HelloCodeError | null} error */
  onSendReply(clientId, frame, error) {
    if (!error && frame.command === 'ack') {
      const item = this.outbox.take(clientId);
      if (item) this.settleSend(item, frame.message, null, true);
      return;
    }
    if (error && isRetryable(error)) {
      const rateLimited = error.code === 'rate_limited';
      if (!rateLimited) this.pause(error.retryAfter);
      // The rate limit and an unreachable database are waited out as long as it takes; a
      // failure of the server only so many times (it may be this message that makes it fail).
      const counted = !(rateLimited || error.code === 'unavailable');
      if (!this.outbox.retry(clientId, counted)) {
        const item = this.outbox.take(clientId);
        if (item) this.settleSend(item, null, error, true);
      }
      return;
    }
    const item = this.outbox.take(clientId);
    if (item) {
      const failure = error ?? new HelloCodeError('protocol', `expected \`ack\`, got \`${frame.command}\``);
      this.settleSend(item, null, failure, true);
    }
  }

  /** A page of the chat list fetched after a (re)connection. @param {Frame} frame @param {HelloCodeError | null} error */
  onChatList(frame, error) {
    if (frame.command !== 'chats' || !Array.isArray(frame.chats)) {
      if (this.phase.name === 'first_sync') {
        this.lose(error ?? new HelloCodeError('protocol', `expected \`chats\`, got \`${frame.command}\``));
      } else {
        this.pause(error?.retryAfter);
        this.sync.needed = true;
      }
      return;
    }
    /** @type {Chat[]} */
    const page = frame.chats;
    const repeated = this.sync.pages.length > 0 && page.length > 0 && page[0].id === this.sync.pages[0].id;
    if (!repeated) this.sync.pages.push(...page);
    if (!repeated && page.length >= LIST_PAGE) {
      this.sync.after = page[page.length - 1].id;
      this.sync.needed = true;
      return;
    }
    const chats = this.sync.pages;
    this.sync = { needed: false, pages: [], after: null };
    /** @type {HelloCodeEvent[]} */
    const out = [];
    const appeared = this.chats.synced(chats, out);
    if (this.phase.name === 'first_sync') {
      this.deliver(out);
      this.becomeReady();
      return;
    }
    // Added to them while we were away: the application learns of them now.
    for (const chat of appeared) this.emit({ kind: 'chat_created', chat });
    this.deliver(out);
  }

  /** A frame without a request id: an event. @param {Frame} frame */
  onEvent(frame) {
    /** @type {HelloCodeEvent[]} */
    const out = [];
    switch (frame.command) {
      case 'new_message':
        this.chats.live(frame.message, [], out);
        break;
      // The sequenced event first (a server older than version 2 sends none), then the
      // convenience; neither if the event was delivered already.
      case 'message_edited': {
        /** @type {HelloCodeEvent} */
        const edited = { kind: 'edited', message: frame.message };
        if (frame.event) this.chats.live(frame.event, [edited], out);
        else out.push(edited);
        break;
      }
      case 'message_deleted': {
        /** @type {HelloCodeEvent} */
        const deleted = { kind: 'deleted', chat: frame.chatId, seq: frame.seq };
        if (frame.event) this.chats.live(frame.event, [deleted], out);
        else out.push(deleted);
        break;
      }
      case 'chat_changed':
        this.onChatChanged(frame.chat, Array.isArray(frame.events) ? frame.events : [], out);
        break;
      case 'chat_deleted':
        this.chats.forget(frame.chatId, out);
        out.push({ kind: 'chat_deleted', chat: frame.chatId, by: frame.by });
        break;
      case 'typing':
        out.push({ kind: 'typing', chat: frame.chatId, user: frame.username });
        break;
      case 'read':
        out.push({ kind: 'read', chat: frame.chatId, user: frame.username, seq: frame.seq });
        break;
      case 'presence':
        out.push({ kind: 'presence', user: frame.username, online: frame.online });
        break;
      case 'chat_created':
        this.chats.created(frame.chat);
        out.push({ kind: 'chat_created', chat: frame.chat });
        break;
      case 'invitation':
        out.push({ kind: 'invitation', invitation: frame.invitation });
        break;
      default:
        break; // an event of a newer server: ignored, as every client must
    }
    this.deliver(out);
  }

  /**
   * A chat's members, roles, name or topic changed: its events in sequence, then the chat as it
   * now is. If this user left or was removed, that is the last of the chat.
   * @param {Chat} chat @param {Message[]} events @param {HelloCodeEvent[]} out
   */
  onChatChanged(chat, events, out) {
    const gone = events.some(
      (event) => (event.kind === 'leave' || event.kind === 'remove') && event.member === this.username,
    );
    /** @type {HelloCodeEvent[]} */
    let changed = [{ kind: 'chat_changed', chat }];
    events.forEach((event, index) => {
      const after = index === events.length - 1 ? changed : [];
      if (index === events.length - 1) changed = [];
      this.chats.live(event, after, out);
    });
    out.push(...changed); // no event (a server that sends none): the change itself
    if (gone) this.chats.forget(chat.id, out);
  }

  // ---- what goes on the wire ----

  /** Write what may go now: the chat list, resumes, waiting requests and queued sends. */
  flush() {
    const phase = this.phase.name;
    if (phase === 'first_sync') {
      this.transmitSync();
    } else if (phase === 'ready') {
      if (this.pausedUntil === null) this.transmitReady();
      if (this.closing && (this.outbox.size === 0 || Date.now() >= this.closing.deadline)) this.stop(null);
    }
    this.schedule();
  }

  /** The next page of the chat list, if one is wanted. Whether it was written. */
  transmitSync() {
    if (!this.sync.needed) return false;
    this.sync.needed = false;
    const id = this.nextId++;
    this.inFlight.set(id, { type: 'sync' });
    /** @type {Frame} */
    const command = { command: 'list_chats', id, limit: LIST_PAGE };
    if (this.sync.after !== null) command.after = this.sync.after;
    this.write(command);
    return true;
  }

  transmitReady() {
    const sends = this.outbox.onWire();
    let room = Math.max(0, COMMANDS_IN_FLIGHT - (this.inFlight.size - sends));
    if (room > 0 && this.transmitSync()) room -= 1;
    for (const [chat, since] of this.chats.takeWanted(room)) {
      room -= 1;
      const id = this.nextId++;
      this.inFlight.set(id, { type: 'resume', chat });
      this.write({ command: 'resume', id, chatId: chat, since });
    }
    while (room > 0 && this.waiting.length > 0) {
      const waiting = /** @type {Waiting} */ (this.waiting.shift());
      if (waiting.settled) continue; // the caller gave up (timed out)
      room -= 1;
      const id = this.nextId++;
      this.inFlight.set(id, { type: 'request', waiting });
      this.write({ ...waiting.command, id });
    }
    const sendRoom = Math.max(1, this.config.sendWindow) - sends;
    for (const item of this.outbox.ready(Math.max(0, sendRoom))) {
      const id = this.nextId++;
      item.onWire = id;
      item.attempted = true;
      this.inFlight.set(id, { type: 'send', clientId: item.send.clientId });
      this.write({ command: 'new_message', id, chatId: item.send.chat, message: item.send.text, clientId: item.send.clientId });
    }
  }

  /** @param {Frame} frame */
  write(frame) {
    const socket = this.socket;
    if (!socket) return;
    try {
      socket.send(JSON.stringify(frame));
    } catch (error) {
      this.lose(new HelloCodeError('transport', `cannot write to the connection: ${describe(error)}`));
    }
  }

  // ---- timers ----

  /** Arm the one timer for the next deadline (backoff, pause, connection establishment, close). */
  schedule() {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.phase.name === 'stopped') return;
    const deadlines = [this.pausedUntil, this.backoffUntil, this.establishDeadline, this.closing?.deadline ?? null];
    const next = Math.min(...deadlines.filter(/** @returns {d is number} */ (d) => d !== null));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, next - Date.now()));
  }

  onTimer() {
    this.timer = null;
    const now = Date.now();
    if (this.pausedUntil !== null && now >= this.pausedUntil) this.pausedUntil = null;
    const phase = this.phase;
    if (phase.name === 'backoff' && this.backoffUntil !== null && now >= this.backoffUntil) {
      this.connect(phase.attempt);
    } else if (
      (phase.name === 'connecting' || phase.name === 'handshake' || phase.name === 'first_sync') &&
      this.establishDeadline !== null &&
      now >= this.establishDeadline
    ) {
      this.lose(new HelloCodeError('timeout', `no connection within ${this.config.connectTimeoutMs} ms`));
    }
    if (this.closing && now >= this.closing.deadline && this.phase.name !== 'ready') this.stop(null);
    this.flush();
  }

  /** Expiry of queued messages, the keepalive, and writes stuck in the socket's buffer. */
  onHousekeeping() {
    const now = Date.now();
    if (this.config.sendExpiryMs !== null) {
      const expired = this.outbox.expire(this.config.sendExpiryMs, now);
      for (const item of expired) {
        this.settleSend(item, null, new HelloCodeError('expired', `the message was not sent within ${this.config.sendExpiryMs} ms`), true);
      }
    }
    if (this.phase.name !== 'ready') return;
    const buffered = this.socket?.bufferedAmount ?? 0;
    if (buffered === 0) this.bufferedSince = null;
    else if (this.bufferedSince === null) this.bufferedSince = now;
    else if (now - this.bufferedSince > this.config.writeTimeoutMs) {
      this.lose(new HelloCodeError('timeout', `a write took longer than ${this.config.writeTimeoutMs} ms`));
      return;
    }
    if (this.probe !== null) {
      if (now - this.probe > this.config.requestTimeoutMs) {
        this.lose(new HelloCodeError('timeout', `no reply to the keepalive within ${this.config.requestTimeoutMs} ms`));
      }
    } else if (now - this.lastReply > this.config.keepaliveMs) {
      // A silent connection: is anyone there?
      this.probe = now;
      const id = this.nextId++;
      this.inFlight.set(id, { type: 'keepalive' });
      this.write({ command: 'ping', id });
    }
  }

  /**
   * Stop writing for a while after `rate_limited` (or a failure worth waiting out). Refusals of
   * commands already on the wire belong to the same pause, which doubles only from one pause to
   * the next (up to a bound). `retryAfter`: seconds the server asked to wait at least.
   * @param {number | undefined} retryAfter
   */
  pause(retryAfter) {
    const asked = retryAfter === undefined ? null : Math.min(retryAfter * 1000, RETRY_AFTER_MAX_MS);
    const now = Date.now();
    if (this.pausedUntil === null) {
      this.pausedUntil = now + (asked === null ? this.ratePause : Math.max(asked, this.ratePause));
      this.ratePause = Math.min(this.ratePause * 2, RATE_PAUSE_MAX_MS);
    } else if (asked !== null) {
      this.pausedUntil = Math.max(this.pausedUntil, now + asked);
    }
  }

  // ---- to the application ----

  /** @param {Waiting} waiting */
  insertWaiting(waiting) {
    const index = this.waiting.findIndex((other) => other.order > waiting.order);
    if (index < 0) this.waiting.push(waiting);
    else this.waiting.splice(index, 0, waiting);
  }

  /** @param {Waiting} waiting @param {Frame | null} frame @param {HelloCodeError | null} error */
  settle(waiting, frame, error) {
    if (waiting.settled) return;
    waiting.settled = true;
    if (error) waiting.reject(error);
    else waiting.resolve(/** @type {Frame} */ (frame));
  }

  /**
   * A queued message reached its final state: report it, answer its waiter.
   * @param {Outgoing} item @param {Message | null} message @param {HelloCodeError | null} error
   * @param {boolean} persist update the stored queue
   */
  settleSend(item, message, error, persist) {
    const send = { ...item.send };
    if (message) {
      this.emit({ kind: 'sent', send, message });
      item.waiter?.resolve(message);
    } else {
      const failure = error ?? new HelloCodeError('protocol', 'no message and no error');
      this.emit({ kind: 'send_failed', send, error: failure });
      item.waiter?.reject(failure);
    }
    if (persist) this.persistence.savePending(this.outbox.snapshot());
  }

  /** @param {HelloCodeEvent[]} events */
  deliver(events) {
    for (const event of events) this.emit(event);
  }

  /** @param {HelloCodeEvent} event */
  emit(event) {
    this.events.emit(event);
  }

  savePositions() {
    if (this.phase.name === 'ready' || this.phase.name === 'first_sync') {
      this.persistence.savePositions(this.chats.positions());
    }
  }

  /**
   * @param {ConnectionState} state
   * @param {{username?: string, attempt?: number, delayMs?: number, error?: HelloCodeError | null}} details
   */
  setState(state, details) {
    this.state = state;
    this.connection = { kind: 'connection', state, ...details };
    this.emit({ ...this.connection });
  }
}

/** @param {{username: string, password: string}} credentials */
function loginFrame(credentials) {
  return { command: 'login', username: credentials.username, password: credentials.password };
}

/** @param {{username: string, password: string, email: string}} credentials */
function registerFrame(credentials) {
  return {
    command: 'register',
    username: credentials.username,
    email: credentials.email,
    password: credentials.password,
    password_confirmation: credentials.password,
  };
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}
