// @ts-check
/**
 * The public `Client`: every operation of the Rust SDK's `Client`, in camelCase, over one
 * `Session` (which holds the connection and the guarantees).
 */

import { HelloCodeError } from './errors.js';
import { copySend, newClientId } from './outbox.js';
import { attachmentOf, checkedAttachments, checkedFileName, download, httpBase, mediaTarget, upload } from './media.js';
import { DEFAULTS, LIST_PAGE } from './config.js';
import { Session } from './session.js';

/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').User} User */
/** @typedef {import('./types.js').Language} Language */
/** @typedef {import('./types.js').ReadPosition} ReadPosition */
/** @typedef {import('./types.js').Invitation} Invitation */
/** @typedef {import('./types.js').InviteLink} InviteLink */
/** @typedef {import('./types.js').IssuedInviteLink} IssuedInviteLink */
/** @typedef {import('./types.js').BotToken} BotToken */
/** @typedef {import('./types.js').IssuedBotToken} IssuedBotToken */
/** @typedef {import('./types.js').PendingSend} PendingSend */
/** @typedef {import('./types.js').Pusher} Pusher */
/** @typedef {import('./types.js').NewPusher} NewPusher */
/** @typedef {import('./types.js').PushSettings} PushSettings */
/** @typedef {import('./types.js').Attachment} Attachment */
/** @typedef {import('./types.js').Download} Download */
/** @typedef {import('./media.js').Progress} Progress */
/** @typedef {import('./media.js').UploadData} UploadData */
/** @typedef {import('./types.js').Role} Role */
/** @typedef {import('./types.js').HelloCodeEvent} HelloCodeEvent */
/** @typedef {import('./types.js').ConnectionState} ConnectionState */
/** @typedef {import('./session.js').Frame} Frame */

/** The server's limit on a message's text, in characters (code points). */
export const MAX_MESSAGE_CHARS = 8192;
/** The protocol's limit on a client id, in UTF-8 bytes. */
export const MAX_CLIENT_ID_BYTES = 128;
/** The page `history` fetches at a time. */
const HISTORY_PAGE = 100;

/**
 * How the client proves who it is. After the first authentication it keeps the token the server
 * returned (in the storage too) and uses it on reconnect; with a password it logs in again if
 * the token has expired.
 * @typedef {{login: {username: string, password: string}}
 *   | {register: {username: string, password: string, email: string}}
 *   | {registerOrLogin: {username: string, password: string, email: string}}
 *   | {token: string}} Credentials
 */

/**
 * @typedef {object} ConnectOptions
 * @property {string} url the WebSocket endpoint, `ws://host:port/ws` (a page: its own origin with `ws:`/`wss:`)
 * @property {Credentials} [credentials] may be left out when `storage` holds a token
 * @property {import('./persist.js').Storage} [storage] keeps the token, the positions and the queued sends across reloads
 * @property {string} [storagePrefix] of the storage's keys (default `hellocode`)
 * @property {typeof WebSocket} [WebSocket] the constructor (default: `globalThis.WebSocket`)
 * @property {number} [requestTimeoutMs] how long a command waits for its reply (default 15 s)
 * @property {number} [connectTimeoutMs] one connection attempt, authentication included (default 10 s)
 * @property {{initialMs?: number, maxMs?: number, multiplier?: number, jitter?: number, maxAttempts?: number | null}} [backoff]
 *   between reconnection attempts (default 200 ms doubling up to 30 s, half of it random, forever)
 * @property {number} [sendQueue] most messages queued (default 1000)
 * @property {number} [sendWindow] most sends awaiting their acknowledgement at once (default 32)
 * @property {number | null} [sendExpiryMs] a queued message never sent within this fails (default: never)
 * @property {number} [eventBacklog] events kept until the first listener (default 10000)
 * @property {number} [keepaliveMs] a silent connection is pinged after this long (default 30 s)
 * @property {number} [closeTimeoutMs] how long `close` waits for queued messages (default 5 s)
 * @property {number} [writeTimeoutMs] unsent written bytes after this long: a dead connection (default 10 s)
 */

/**
 * @param {Credentials | undefined} credentials
 * @returns {import('./config.js').Credentials | null}
 */
function normalizeCredentials(credentials) {
  if (credentials === undefined || credentials === null) return null;
  if ('token' in credentials && typeof credentials.token === 'string') {
    return { kind: 'token', token: credentials.token };
  }
  if ('login' in credentials && credentials.login) {
    const { username, password } = credentials.login;
    return { kind: 'password', username, password };
  }
  if ('register' in credentials && credentials.register) {
    const { username, password, email } = credentials.register;
    return { kind: 'register', username, password, email };
  }
  if ('registerOrLogin' in credentials && credentials.registerOrLogin) {
    const { username, password, email } = credentials.registerOrLogin;
    return { kind: 'register_or_login', username, password, email };
  }
  throw new HelloCodeError('invalid_argument', 'credentials must be {login}, {register}, {registerOrLogin} or {token}');
}

/** @param {ConnectOptions} options @returns {import('./config.js').Config} */
function configFrom(options) {
  /** @param {number | undefined} value @param {number} fallback */
  const pick = (value, fallback) => (typeof value === 'number' && value >= 0 ? value : fallback);
  const backoff = options.backoff ?? {};
  return {
    requestTimeoutMs: pick(options.requestTimeoutMs, DEFAULTS.requestTimeoutMs),
    connectTimeoutMs: pick(options.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
    backoff: {
      initialMs: pick(backoff.initialMs, DEFAULTS.backoff.initialMs),
      maxMs: pick(backoff.maxMs, DEFAULTS.backoff.maxMs),
      multiplier: pick(backoff.multiplier, DEFAULTS.backoff.multiplier),
      jitter: pick(backoff.jitter, DEFAULTS.backoff.jitter),
      maxAttempts: backoff.maxAttempts ?? null,
    },
    sendQueue: pick(options.sendQueue, DEFAULTS.sendQueue),
    sendWindow: pick(options.sendWindow, DEFAULTS.sendWindow),
    sendExpiryMs: options.sendExpiryMs ?? null,
    eventBacklog: pick(options.eventBacklog, DEFAULTS.eventBacklog),
    keepaliveMs: pick(options.keepaliveMs, DEFAULTS.keepaliveMs),
    closeTimeoutMs: pick(options.closeTimeoutMs, DEFAULTS.closeTimeoutMs),
    writeTimeoutMs: pick(options.writeTimeoutMs, DEFAULTS.writeTimeoutMs),
  };
}

/**
 * @param {Frame} frame @param {string} expected
 * @returns {HelloCodeError}
 */
function unexpected(frame, expected) {
  return new HelloCodeError('protocol', `unexpected reply from the server: expected \`${expected}\`, got \`${frame.command}\``);
}

/**
 * A connected HelloCode client. Create one with `Client.connect`.
 *
 * Guarantees (as the Rust SDK's): a lost connection is reestablished with exponential backoff
 * and jitter, then every chat resumed from the last item delivered, so each item of a chat is
 * delivered exactly once and in order; sends go through a queue under client ids, so a resend
 * never posts twice; every command that changes something carries an idempotency key and is
 * resent after a lost connection, except `createBotToken`, `createInviteLink` and `deleteChat`,
 * which fail with `connection_lost`.
 */
export class Client {
  /** @param {Session} session @private */
  constructor(session) {
    /** @private */
    this.session = session;
  }

  /**
   * Connect, authenticate and learn the chat list; rejects if the first connection fails (with
   * the server's code: `invalid_credentials`, `username_taken`, `validation_failed`, ...).
   * @param {ConnectOptions} options
   * @returns {Promise<Client>}
   */
  static async connect(options) {
    const WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    if (typeof WebSocketImpl !== 'function') {
      throw new HelloCodeError('invalid_argument', 'no WebSocket: pass the `WebSocket` option (Node 20: run with --experimental-websocket)');
    }
    if (typeof options.url !== 'string' || !/^wss?:\/\//.test(options.url)) {
      throw new HelloCodeError('invalid_url', `invalid server url ${JSON.stringify(options.url)}: expected ws:// or wss://`);
    }
    const session = new Session({
      url: options.url,
      credentials: normalizeCredentials(options.credentials),
      WebSocket: WebSocketImpl,
      config: configFrom(options),
      storage: options.storage,
      storagePrefix: options.storagePrefix,
    });
    await session.start();
    return new Client(session);
  }

  /** The authenticated user's name. */
  get username() {
    return this.session.username;
  }

  /** The newest token (from login, registration, or as given); null once refused. */
  get token() {
    return this.session.token;
  }

  /** @returns {ConnectionState} */
  get state() {
    return this.session.state;
  }

  /**
   * The connection's state with its details, as the last `connection` event said: the user
   * when connected, the next attempt and the error when reconnecting, the error when closed.
   * @returns {import('./types.js').ConnectionEvent}
   */
  get connection() {
    return { ...this.session.connection };
  }

  // ---- events ----

  /**
   * Call `listener` with every event from now on (and those that came before the first
   * subscriber). Returns a function that removes it.
   * @param {(event: HelloCodeEvent) => void} listener
   * @returns {() => void}
   */
  addListener(listener) {
    return this.session.events.listen(listener);
  }

  /**
   * The events from now on, as an async iterable that ends when the client closes.
   * @returns {AsyncIterableIterator<HelloCodeEvent>}
   */
  events() {
    return this.session.events.stream();
  }

  // ---- sending ----

  /**
   * Send a message and wait until the server has stored it. It goes through the send queue: if
   * the connection is down it waits for the next one, and a resend never posts it twice.
   * @param {number} chat @param {string} text @param {{clientId?: string}} [options]
   * @returns {Promise<Message>}
   */
  send(chat, text, options = {}) {
    return new Promise((resolve, reject) => {
      const send = this.checkedSend(chat, text, options.clientId);
      this.session.enqueue(send, { resolve, reject });
    });
  }

  /**
   * `send` under a client id of your own (1 to 128 bytes): however often it is called with the
   * same id, the chat stores the message once, and every call resolves with it.
   * @param {number} chat @param {string} text @param {string} clientId
   */
  sendWithClientId(chat, text, clientId) {
    return this.send(chat, text, { clientId });
  }

  /**
   * Queue a message and return at once; its progress arrives as `pending`, then `sent` or
   * `send_failed` events with the returned `clientId`. `attachments`: ids of files uploaded
   * to the chat, as `sendWithAttachments` takes them.
   * @param {number} chat @param {string} text @param {{clientId?: string, attachments?: string[]}} [options]
   * @returns {PendingSend}
   */
  enqueue(chat, text, options = {}) {
    const attachments = options.attachments === undefined ? [] : checkedAttachments(options.attachments);
    const send = this.checkedSend(chat, text, options.clientId, attachments);
    this.session.enqueue(send, null);
    return copySend(send);
  }

  /** @param {number} chat @param {string} text @param {string} clientId */
  enqueueWithClientId(chat, text, clientId) {
    return this.enqueue(chat, text, { clientId });
  }

  /**
   * `send` with files: `attachments` are the ids of files uploaded to this chat
   * (`uploadAttachment`), at most 10; with them `text` may be empty. Through the send queue as
   * `send` (the ids are queued, and persisted, with the text). The stored message describes
   * each file (`attachments` of the `Message`).
   * @param {number} chat @param {string} text @param {string[]} attachments
   * @param {{clientId?: string}} [options]
   * @returns {Promise<Message>}
   */
  sendWithAttachments(chat, text, attachments, options = {}) {
    return new Promise((resolve, reject) => {
      const send = this.checkedSend(chat, text, options.clientId, checkedAttachments(attachments));
      if (send.text === '' && !send.attachments) throw new HelloCodeError('invalid_argument', 'a message needs text or attachments');
      this.session.enqueue(send, { resolve, reject });
    });
  }

  /** Messages queued and not yet acknowledged, oldest first. @returns {PendingSend[]} */
  pendingSends() {
    return this.session.outbox.snapshot();
  }

  /**
   * Checked here, not by the server: a message too large for the server's frame limit would
   * close the connection, and be resent on every reconnect.
   * @param {number} chat @param {string} text @param {string | undefined} clientId
   * @param {string[]} [attachments] checked ids
   * @returns {PendingSend}
   */
  checkedSend(chat, text, clientId = newClientId(), attachments = []) {
    if (!Number.isSafeInteger(chat)) throw new HelloCodeError('invalid_argument', 'chat must be a chat id (an integer)');
    if (typeof text !== 'string') throw new HelloCodeError('invalid_argument', 'text must be a string');
    const chars = [...text].length;
    if (chars > MAX_MESSAGE_CHARS) {
      throw new HelloCodeError('invalid_argument', `message has ${chars} characters; the limit is ${MAX_MESSAGE_CHARS}`);
    }
    const bytes = typeof clientId === 'string' ? new TextEncoder().encode(clientId).length : 0;
    if (bytes < 1 || bytes > MAX_CLIENT_ID_BYTES) {
      throw new HelloCodeError('invalid_argument', `client id must be 1 to ${MAX_CLIENT_ID_BYTES} bytes`);
    }
    /** @type {PendingSend} */
    const send = { clientId: /** @type {string} */ (clientId), chat, text };
    if (attachments.length > 0) send.attachments = attachments;
    return send;
  }

  // ---- media ----

  /**
   * Upload a file to a chat (its members may read it), to send with `sendWithAttachments`. The
   * server detects the type from the content; an image is re-encoded without metadata and
   * gets a thumbnail. `progress(done, total)` is told how far the upload is (in a browser as
   * the bytes go; at least once, at the end, with `done === total`). Refusals: `forbidden`
   * (not a member), `too_large` (over the server's upload limit, or an image too large to
   * decode: `status` 413), `invalid_field` (a type the server refuses: 415; a bad name: 422),
   * `rate_limited` (with `retryAfter`).
   * @param {number} chat @param {string} name the file name to offer
   * @param {UploadData} data @param {Progress} [progress]
   * @returns {Promise<Attachment>} the file as a message will describe it
   */
  async uploadAttachment(chat, name, data, progress) {
    if (!Number.isSafeInteger(chat)) throw new HelloCodeError('invalid_argument', 'chat must be a chat id (an integer)');
    const media = await upload(this.http(), `/api/chat/${chat}/media/`, checkedFileName(name), data, progress);
    return attachmentOf(media);
  }

  /**
   * Upload this user's avatar (a JPEG, PNG, GIF or WebP image); the profile's `avatar` becomes
   * its address, `/api/media/<id>`, which every signed-in user may download.
   * @param {string} name @param {UploadData} data @param {Progress} [progress]
   * @returns {Promise<Attachment>}
   */
  async uploadAvatar(name, data, progress) {
    const path = `/api/users/${encodeURIComponent(this.username)}/avatar/`;
    const media = await upload(this.http(), path, checkedFileName(name), data, progress);
    return attachmentOf(media);
  }

  /**
   * Download a file this user may read: an attachment of one of their chats, or an avatar.
   * `media` is its id or its address (`/api/media/<id>`, or `/api/media/<id>/thumbnail` for
   * the thumbnail); anything else (another server, another path) is refused with
   * `invalid_argument` before any request. `progress` is told of every chunk. What the user
   * may not read answers `not_found`, as what does not exist.
   * @param {string} media @param {Progress} [progress]
   * @returns {Promise<Download>} `{contentType, data}` (the bytes, a `Uint8Array`)
   */
  async download(media, progress) {
    const http = this.http();
    const target = mediaTarget(media, http.base);
    return download(http, `/api/media/${target.id}${target.thumbnail ? '/thumbnail' : ''}`, progress);
  }

  /**
   * An image's thumbnail (it fits 320 × 320): `media` as for `download`. A file with none
   * answers `not_found`.
   * @param {string} media @param {Progress} [progress]
   * @returns {Promise<Download>}
   */
  async downloadThumbnail(media, progress) {
    const http = this.http();
    const target = mediaTarget(media, http.base);
    return download(http, `/api/media/${target.id}/thumbnail`, progress);
  }

  /** The server's HTTP side and this client's token. @returns {import('./media.js').Http} */
  http() {
    if (this.session.closing || this.session.phase.name === 'stopped') throw new HelloCodeError('closed', 'the client is closed');
    const token = this.session.token;
    if (token === null) throw new HelloCodeError('unsupported', 'the client has no token to authenticate over HTTP');
    return { base: httpBase(this.session.url), token, timeoutMs: this.session.config.requestTimeoutMs };
  }

  // ---- messages ----

  /**
   * A page of history, newest first: `limit` messages (server default 10, at most 100) with seqs
   * below `before` (the newest when absent).
   * @param {number} chat @param {{before?: number | null, limit?: number | null}} [options]
   * @returns {Promise<Message[]>}
   */
  async fetchMessages(chat, options = {}) {
    /** @type {Frame} */
    const command = { command: 'fetch_messages', chatId: chat };
    if (options.before !== undefined && options.before !== null) command.before = options.before;
    if (options.limit !== undefined && options.limit !== null) command.limit = options.limit;
    const frame = await this.session.request(command, true);
    if (frame.command !== 'messages') throw unexpected(frame, 'messages');
    return frame.messages;
  }

  /**
   * Every message of a chat, newest first, fetched a page at a time as it is iterated.
   * @param {number} chat @param {{before?: number | null}} [options] only messages below this seq
   * @returns {AsyncGenerator<Message, void, void>}
   */
  async *history(chat, options = {}) {
    let before = options.before ?? null;
    while (before === null || before > 1) {
      const page = await this.fetchMessages(chat, { before, limit: HISTORY_PAGE });
      yield* page;
      if (page.length < HISTORY_PAGE) return;
      before = page[page.length - 1].seq;
    }
  }

  /** `history` below `seq`. @param {number} chat @param {number} seq */
  historyBefore(chat, seq) {
    return this.history(chat, { before: seq });
  }

  /**
   * Replace the text of one of this user's messages; the edited message.
   * @param {number} chat @param {number} seq @param {string} text
   * @returns {Promise<Message>}
   */
  async editMessage(chat, seq, text) {
    // Resent after a lost connection: the key makes a repeat change nothing.
    const command = { command: 'edit_message', chatId: chat, seq, message: text, clientId: newClientId() };
    const frame = await this.session.request(command, true);
    if (frame.command !== 'ack') throw unexpected(frame, 'ack');
    return frame.message;
  }

  /** Delete one of this user's messages. @param {number} chat @param {number} seq @returns {Promise<void>} */
  deleteMessage(chat, seq) {
    return this.expectOk({ command: 'delete_message', chatId: chat, seq, clientId: newClientId() }, true);
  }

  /** Tell the chat's other members that this user is typing. @param {number} chat @returns {Promise<void>} */
  typing(chat) {
    return this.expectOk({ command: 'typing', chatId: chat }, true);
  }

  /** Read receipt: this user has read the chat up to `seq`. @param {number} chat @param {number} seq @returns {Promise<void>} */
  markRead(chat, seq) {
    return this.expectOk({ command: 'read', chatId: chat, seq }, true);
  }

  /**
   * How far each member of a chat has read, by username (`seq` 0: nothing yet) — this user's
   * own position included, so a new device can count what is unread. `read` events tell later
   * moves.
   * @param {number} chat
   * @returns {Promise<ReadPosition[]>}
   */
  async readPositions(chat) {
    const frame = await this.session.request({ command: 'get_read_positions', chatId: chat }, true);
    if (frame.command !== 'read_positions') throw unexpected(frame, 'read_positions');
    return frame.positions;
  }

  // ---- chats ----

  /**
   * Create a chat with these users (the caller is always in it): with one other person a direct
   * chat, with more a group the caller owns.
   * @param {string[]} participants
   * @returns {Promise<Chat>}
   */
  createChat(participants) {
    // Resent after a lost connection: the key makes a repeat answered with the same chat.
    return this.expectChat({ command: 'create_chat', participants, clientId: newClientId() }, true);
  }

  /**
   * Create a named group the caller owns.
   * @param {string} name @param {string[]} participants @param {{topic?: string}} [options]
   * @returns {Promise<Chat>}
   */
  createGroup(name, participants, options = {}) {
    /** @type {Frame} */
    const command = { command: 'create_chat', participants, name, clientId: newClientId() };
    if (options.topic !== undefined) command.topic = options.topic;
    return this.expectChat(command, true);
  }

  /**
   * The chat with exactly these users (and the caller), created if there is none: a direct chat
   * for one other user, a group for more.
   * @param {string[]} usernames
   * @returns {Promise<Chat>}
   */
  async chatWith(usernames) {
    const wanted = new Set([...usernames, this.username]);
    const kind = wanted.size === 2 ? 'direct' : 'group';
    for (let attempt = 1; ; attempt++) {
      const existing = (await this.listChats())
        .filter(
          (chat) =>
            chat.kind === kind &&
            chat.participants.length === wanted.size &&
            chat.participants.every((participant) => wanted.has(participant.username)),
        )
        .sort((a, b) => a.id - b.id)[0];
      if (existing) return existing;
      try {
        return await this.createChat([...wanted].sort());
      } catch (error) {
        if (!(error instanceof HelloCodeError && error.code === 'connection_lost' && attempt < 3)) throw error;
      }
    }
  }

  /** One of the user's chats, as it now is. @param {number} chat @returns {Promise<Chat>} */
  getChat(chat) {
    return this.expectChat({ command: 'get_chat', chatId: chat }, true);
  }

  /** The user's chats, by id (every page). @returns {Promise<Chat[]>} */
  listChats() {
    return this.allPages((after) => ({ command: 'list_chats', ...(after === null ? {} : { after }) }), 'chats', 'chats', (chat) => chat.id);
  }

  /** An owner or admin adds users to a group. @param {number} chat @param {string[]} usernames @returns {Promise<Chat>} */
  addParticipants(chat, usernames) {
    return this.expectChat({ command: 'add_participants', chatId: chat, usernames, clientId: newClientId() }, true);
  }

  /** An owner or admin removes a member. @param {number} chat @param {string} username @returns {Promise<Chat>} */
  removeParticipant(chat, username) {
    return this.expectChat({ command: 'remove_participant', chatId: chat, username, clientId: newClientId() }, true);
  }

  /** Leave a chat (a group's ownership passes on). @param {number} chat @returns {Promise<void>} */
  leaveChat(chat) {
    return this.expectOk({ command: 'leave_chat', chatId: chat, clientId: newClientId() }, true);
  }

  /** The owner gives a member a role (`owner` hands ownership over). @param {number} chat @param {string} username @param {Role} role @returns {Promise<Chat>} */
  setRole(chat, username, role) {
    return this.expectChat({ command: 'set_role', chatId: chat, username, role, clientId: newClientId() }, true);
  }

  /**
   * Rename a group or set its topic (an empty string clears one).
   * @param {number} chat @param {{name?: string | null, topic?: string | null}} changes
   * @returns {Promise<Chat>}
   */
  updateChat(chat, changes) {
    /** @type {Frame} */
    const command = { command: 'update_chat', chatId: chat, clientId: newClientId() };
    if (changes.name !== undefined && changes.name !== null) command.name = changes.name;
    if (changes.topic !== undefined && changes.topic !== null) command.topic = changes.topic;
    return this.expectChat(command, true);
  }

  /**
   * Delete a chat and its history. Not resent after a lost connection (a repeat would find no
   * chat): fails with `connection_lost` then.
   * @param {number} chat @returns {Promise<void>}
   */
  deleteChat(chat) {
    return this.expectOk({ command: 'delete_chat', chatId: chat }, false);
  }

  // ---- invitations and invite links ----

  /** Invite a user to a group. @param {number} chat @param {string} username @returns {Promise<Invitation>} */
  async invite(chat, username) {
    const frame = await this.session.request({ command: 'invite', chatId: chat, username }, true);
    if (frame.command !== 'invitation') throw unexpected(frame, 'invitation');
    return frame.invitation;
  }

  /** This user's pending invitations, by id (every page). @returns {Promise<Invitation[]>} */
  invitations() {
    return this.allPages(
      (after) => ({ command: 'list_invitations', ...(after === null ? {} : { after }) }),
      'invitations',
      'invitations',
      (invitation) => invitation.id,
    );
  }

  /** @param {number} invitationId @returns {Promise<Chat>} */
  acceptInvitation(invitationId) {
    return this.expectChat({ command: 'accept_invitation', invitationId }, true);
  }

  /** @param {number} invitationId @returns {Promise<void>} */
  declineInvitation(invitationId) {
    return this.expectOk({ command: 'decline_invitation', invitationId }, true);
  }

  /** @param {number} invitationId @returns {Promise<void>} */
  cancelInvitation(invitationId) {
    return this.expectOk({ command: 'cancel_invitation', invitationId }, true);
  }

  /**
   * Create an invite link to a group. Not resent after a lost connection (a second would be
   * another link): fails with `connection_lost` then.
   * @param {number} chat @param {{expiresIn?: number | null, maxUses?: number | null}} [options] `expiresIn` in seconds
   * @returns {Promise<IssuedInviteLink>}
   */
  async createInviteLink(chat, options = {}) {
    /** @type {Frame} */
    const command = { command: 'create_invite_link', chatId: chat };
    if (options.expiresIn !== undefined && options.expiresIn !== null) command.expiresIn = Math.ceil(options.expiresIn);
    if (options.maxUses !== undefined && options.maxUses !== null) command.maxUses = options.maxUses;
    const frame = await this.session.request(command, false);
    if (frame.command !== 'invite_link') throw unexpected(frame, 'invite_link');
    return { link: frame.link, token: frame.token };
  }

  /** A group's invite links (every page). @param {number} chat @returns {Promise<InviteLink[]>} */
  inviteLinks(chat) {
    return this.allPages(
      (after) => ({ command: 'list_invite_links', chatId: chat, ...(after === null ? {} : { after }) }),
      'invite_links',
      'links',
      (link) => link.id,
    );
  }

  /** @param {number} chat @param {number} linkId @returns {Promise<void>} */
  revokeInviteLink(chat, linkId) {
    return this.expectOk({ command: 'revoke_invite_link', chatId: chat, linkId }, true);
  }

  /** Join the group of an invite link. @param {string} token @returns {Promise<Chat>} */
  joinByLink(token) {
    return this.expectChat({ command: 'join_by_link', token }, true);
  }

  // ---- users, languages, contacts ----

  /**
   * The users who want to talk about a language. With `after` or `limit`, one page (by
   * username, after `after`); without, every page. `name` keeps the users whose name contains
   * it (case-insensitive; filtered here, the protocol has no such search).
   * @param {string | {language: string, name?: string, after?: string, limit?: number}} query
   * @returns {Promise<User[]>}
   */
  async findUsers(query) {
    const { language, name, after, limit } = typeof query === 'string' ? { language: query } : query;
    /** @type {User[]} */
    let users;
    if (after !== undefined || limit !== undefined) {
      /** @type {Frame} */
      const command = { command: 'find_users', language };
      if (after !== undefined) command.after = after;
      if (limit !== undefined) command.limit = limit;
      const frame = await this.session.request(command, true);
      if (frame.command !== 'users') throw unexpected(frame, 'users');
      users = frame.users;
    } else {
      users = await this.allPages(
        (page) => ({ command: 'find_users', language, ...(page === null ? {} : { after: page }) }),
        'users',
        'users',
        (user) => user.username,
      );
    }
    if (!name) return users;
    const wanted = name.toLowerCase();
    return users.filter((user) => user.username.toLowerCase().includes(wanted));
  }

  /** A user's public profile. @param {string} username @returns {Promise<User>} */
  getUser(username) {
    return this.expectUser({ command: 'get_user', username });
  }

  /**
   * Change this user's profile: fields left out stay as they are.
   * @param {{timezone?: string | null, languages?: string[] | null}} update
   * @returns {Promise<User>}
   */
  updateProfile(update) {
    /** @type {Frame} */
    const command = { command: 'update_profile' };
    if (update.timezone !== undefined && update.timezone !== null) command.timezone = update.timezone;
    if (update.languages !== undefined && update.languages !== null) command.languages = update.languages;
    return this.expectUser(command);
  }

  /** Every language, by name. @returns {Promise<Language[]>} */
  languages() {
    return this.allPages(
      (after) => ({ command: 'list_languages', ...(after === null ? {} : { after }) }),
      'languages',
      'languages',
      (language) => language.name,
    );
  }

  /** Add a language (one that exists is returned as it is). @param {string} name @returns {Promise<Language>} */
  async addLanguage(name) {
    const frame = await this.session.request({ command: 'add_language', name }, true);
    if (frame.command !== 'language') throw unexpected(frame, 'language');
    return frame.language;
  }

  /** This user's contacts. @returns {Promise<string[]>} */
  contacts() {
    return this.expectContacts({ command: 'list_contacts' });
  }

  /** @param {string} username @returns {Promise<string[]>} the contacts as they now are */
  addContact(username) {
    return this.expectContacts({ command: 'add_contact', username });
  }

  /** @param {string} username @returns {Promise<string[]>} the contacts as they now are */
  removeContact(username) {
    return this.expectContacts({ command: 'remove_contact', username });
  }

  // ---- push notifications ----

  /**
   * Register a device's pusher, or change this user's with the same `appId` and `pushkey`
   * (fields left out take their defaults: no device name, no language, previews on). The
   * server refuses a `url` that is not `http(s)`, does not end in `/_matrix/push/v1/notify`,
   * holds a user name or points at the server itself, with `invalid_field`.
   * @param {NewPusher} pusher
   * @returns {Promise<PushSettings>} the push settings as they now are
   */
  setPusher(pusher) {
    /** @type {Frame} */
    const command = { command: 'set_pusher', appId: pusher.appId, pushkey: pusher.pushkey, url: pusher.url };
    if (pusher.deviceName !== undefined && pusher.deviceName !== null) command.deviceName = pusher.deviceName;
    if (pusher.lang !== undefined && pusher.lang !== null) command.lang = pusher.lang;
    if (pusher.previews !== undefined && pusher.previews !== null) command.previews = pusher.previews;
    return this.expectPushSettings(command);
  }

  /**
   * Remove one of this user's pushers (removing one that is not there changes nothing).
   * @param {string} appId @param {string} pushkey
   * @returns {Promise<PushSettings>} the push settings as they now are
   */
  removePusher(appId, pushkey) {
    return this.expectPushSettings({ command: 'remove_pusher', appId, pushkey });
  }

  /** This user's pushers and muted chats. @returns {Promise<PushSettings>} */
  pushSettings() {
    return this.expectPushSettings({ command: 'get_push_settings' });
  }

  /**
   * Mute (or unmute) a chat's push notifications for this user, a member of it (`forbidden` or
   * `not_found` otherwise). A mute ends when the user leaves the chat.
   * @param {number} chat @param {boolean} muted
   * @returns {Promise<PushSettings>} the push settings as they now are
   */
  muteChat(chat, muted) {
    return this.expectPushSettings({ command: 'mute_chat', chatId: chat, muted });
  }

  // ---- bot tokens ----

  /**
   * A long-lived token a program uses to act as this user; the secret is in this answer only.
   * Not resent after a lost connection (a second would be another token).
   * @param {string} name @returns {Promise<IssuedBotToken>}
   */
  async createBotToken(name) {
    const frame = await this.session.request({ command: 'create_bot_token', name }, false);
    if (frame.command !== 'bot_token') throw unexpected(frame, 'bot_token');
    return { id: frame.tokenId, name: frame.name, token: frame.token };
  }

  /** This user's bot tokens, revoked ones included (never the secrets). @returns {Promise<BotToken[]>} */
  async botTokens() {
    const frame = await this.session.request({ command: 'list_bot_tokens' }, true);
    if (frame.command !== 'bot_tokens') throw unexpected(frame, 'bot_tokens');
    return frame.tokens;
  }

  /** @param {number} tokenId @returns {Promise<void>} */
  revokeBotToken(tokenId) {
    return this.expectOk({ command: 'revoke_bot_token', tokenId }, true);
  }

  // ---- the connection ----

  /** Round trip to the server, in milliseconds. @returns {Promise<number>} */
  async ping() {
    const started = Date.now();
    const frame = await this.session.request({ command: 'ping' }, true);
    if (frame.command !== 'pong') throw unexpected(frame, 'pong');
    return Date.now() - started;
  }

  /**
   * The last seq of every chat handed to the application, keyed by chat id.
   * @returns {Record<string, number>}
   */
  positions() {
    return this.session.chats.positions();
  }

  /**
   * Wait (up to `closeTimeoutMs`) for queued messages to be sent, then close. What is still
   * queued or waiting for a reply fails with `closed`; event streams end after a final
   * `connection` event with state `closed`. With `keepPending` (a page going away) the queued
   * messages are not waited for and stay in the storage, for the next client to send.
   * @param {{keepPending?: boolean}} [options]
   * @returns {Promise<void>}
   */
  close(options) {
    return this.session.close(options);
  }

  // ---- replies ----

  /** @param {Frame} command @param {boolean} retry @returns {Promise<void>} */
  async expectOk(command, retry) {
    const frame = await this.session.request(command, retry);
    if (frame.command !== 'ok') throw unexpected(frame, 'ok');
  }

  /** @param {Frame} command @param {boolean} retry @returns {Promise<Chat>} */
  async expectChat(command, retry) {
    const frame = await this.session.request(command, retry);
    if (frame.command !== 'chat') throw unexpected(frame, 'chat');
    return frame.chat;
  }

  /** @param {Frame} command @returns {Promise<User>} */
  async expectUser(command) {
    const frame = await this.session.request(command, true);
    if (frame.command !== 'user') throw unexpected(frame, 'user');
    return frame.user;
  }

  /** @param {Frame} command @returns {Promise<string[]>} */
  async expectContacts(command) {
    const frame = await this.session.request(command, true);
    if (frame.command !== 'contacts') throw unexpected(frame, 'contacts');
    return frame.contacts;
  }

  /**
   * A `push_settings` reply. Every push command is resent after a lost connection: a repeat
   * changes nothing (the same pusher set again, one removed again, the same mute).
   * @param {Frame} command @returns {Promise<PushSettings>}
   */
  async expectPushSettings(command) {
    const frame = await this.session.request(command, true);
    if (frame.command !== 'push_settings' || !Array.isArray(frame.pushers) || !Array.isArray(frame.mutedChats)) {
      throw unexpected(frame, 'push_settings');
    }
    return { pushers: frame.pushers, mutedChats: frame.mutedChats };
  }

  /**
   * Every page of a list command: asked with `limit` 500 and followed with `after` (the key of
   * the last item) until a page shorter than the limit, or a repeat of the first (a server that
   * ignores `after` would otherwise be asked forever).
   * @template T, K
   * @param {(after: K | null) => Frame} command
   * @param {string} reply the reply's `command`
   * @param {string} field the reply's list
   * @param {(item: T) => K} key
   * @returns {Promise<T[]>}
   */
  async allPages(command, reply, field, key) {
    /** @type {T[]} */
    const all = [];
    /** @type {K | null} */
    let after = null;
    for (;;) {
      const frame = await this.session.request({ ...command(after), limit: LIST_PAGE }, true);
      if (frame.command !== reply || !Array.isArray(frame[field])) throw unexpected(frame, reply);
      /** @type {T[]} */
      const page = frame[field];
      if (all.length > 0 && page.length > 0 && key(page[0]) === key(all[0])) return all;
      all.push(...page);
      if (page.length < LIST_PAGE) return all;
      after = key(page[page.length - 1]);
    }
  }
}
