// @ts-check
/**
 * The client's protocol state and its one WebSocket, after the Rust SDK's `driver/session.rs`:
 * connecting and authenticating, the reconnection backoff, replies matched to requests by id,
 * the send queue, per-chat order and resume, pauses after `rate_limited`, keepalive, and close.
 * JavaScript runs one thing at a time, so the IO lives here too: every input (a frame, a socket
 * event, a timer, a call of the application) updates the state, then `flush` writes what may go.
 */

import { Chats } from './chats.js';
import {
  COMMANDS_IN_FLIGHT,
  HOUSEKEEPING_MS,
  LIST_PAGE,
  RATE_PAUSE_MAX_MS,
  RATE_PAUSE_MS,
  RETRY_AFTER_MAX_MS,
  backoffDelay,
} from './config.js';
import { startHandshake } from './handshake.js';
import { onText } from './replies.js';
import { HelloCodeError, isAuthFailure } from './errors.js';
import { EventHub } from './events.js';
import { Outbox, copySend } from './outbox.js';
import { Persistence } from './persist.js';

/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').PendingSend} PendingSend */
/** @typedef {import('./types.js').HelloCodeEvent} HelloCodeEvent */
/** @typedef {import('./types.js').ConnectionState} ConnectionState */
/** @typedef {import('./outbox.js').Outgoing} Outgoing */
/** @typedef {import('./config.js').Config} Config */
/** @typedef {import('./config.js').Credentials} Credentials */
/** @typedef {Record<string, any>} Frame a JSON object of the protocol */

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
    /** Stops listening to the browser's network events. @type {(() => void) | null} */
    this.unwatchNetwork = null;
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
    this.unwatchNetwork = watchNetwork(
      () => this.onOffline(),
      () => this.onOnline(),
    );
    this.connect(0);
    return started;
  }

  /**
   * The browser says the network is gone. A WebSocket may stay "open" for a long while after
   * that (nothing tells the socket), so the connection is given up now: sends wait as pending.
   */
  onOffline() {
    const phase = this.phase.name;
    if (phase === 'connecting' || phase === 'handshake' || phase === 'first_sync' || phase === 'ready') {
      this.lose(new HelloCodeError('transport', 'the network is offline'));
    }
  }

  /** The network is back: reconnect now rather than at the end of the backoff. */
  onOnline() {
    if (this.phase.name === 'backoff') this.connect(this.phase.attempt);
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
    this.emit({ kind: 'pending', send: copySend(send) });
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
      if (current()) onText(this, event.data);
    });
    socket.addEventListener('close', (event) => {
      if (current()) this.onClose(event.code, event.reason);
    });
    socket.addEventListener('error', () => {
      // Browsers fire 'close' after 'error'; Node 20's WebSocket may not when the handshake
      // fails, so an error is a lost connection now (the 'close' after it, if any, is ignored).
      if (current()) this.lose(new HelloCodeError('transport', `the connection to ${this.url} failed`));
    });
  }

  onOpen() {
    if (this.phase.name !== 'connecting') return;
    this.lastReply = Date.now();
    startHandshake(this, this.phase.attempt);
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
    this.unwatchNetwork?.();
    this.unwatchNetwork = null;
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
      /** @type {Frame} */
      const command = { command: 'new_message', id, chatId: item.send.chat, message: item.send.text, clientId: item.send.clientId };
      if (item.send.attachments?.length) command.attachments = item.send.attachments;
      this.write(command);
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
    const send = copySend(item.send);
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

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Call `offline` and `online` on the browser's network events; a no-op where there are none
 * (Node). Returns what stops listening.
 * @param {() => void} offline @param {() => void} online
 * @returns {() => void}
 */
function watchNetwork(offline, online) {
  const target = /** @type {EventTarget | undefined} */ (
    typeof globalThis.addEventListener === 'function' && typeof globalThis.navigator?.onLine === 'boolean'
      ? globalThis
      : undefined
  );
  if (!target) return () => {};
  target.addEventListener('offline', offline);
  target.addEventListener('online', online);
  return () => {
    target.removeEventListener('offline', offline);
    target.removeEventListener('online', online);
  };
}
