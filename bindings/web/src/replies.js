// @ts-check
/**
 * Frames from the server: replies matched to the commands on the wire by id, and events, which
 * go through the per-chat sequencer. After the Rust SDK's `driver/session/replies.rs`.
 */

import { HelloCodeError, fromFrame, isRetryable } from './errors.js';
import { LIST_PAGE, RATE_PAUSE_MS } from './config.js';
import { onHandshakeReply } from './handshake.js';

/** @typedef {import('./session.js').Session} Session */
/** @typedef {import('./session.js').Frame} Frame */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').HelloCodeEvent} HelloCodeEvent */

/** A text frame from the server: a reply, an error, or an event. @param {Session} session @param {unknown} data */
export function onText(session, data) {
  const phase = session.phase.name;
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
    onReply(session, object.id, object);
  } else if (object.command === 'error' && (object.id === undefined || object.id === null)) {
    onOldest(session, object);
  } else if (object.id === undefined) {
    onEvent(session, object);
  }
  session.savePositions();
  session.flush();
}

/**
 * An error the server could not attach an id to (the frame was refused before it was read):
 * replies come in command order, so it answers the oldest command on the wire.
 * @param {Frame} frame
 * @param {Session} session
 */
function onOldest(session, frame) {
  if (session.phase.name === 'handshake') {
    onReply(session, session.phase.id, frame);
    return;
  }
  const oldest = Math.min(...session.inFlight.keys());
  if (Number.isFinite(oldest)) onReply(session, oldest, frame);
}

/** @param {Session} session @param {number} id @param {Frame} frame */
function onReply(session, id, frame) {
  if (session.phase.name === 'handshake' && session.phase.id === id) {
    session.lastReply = Date.now();
    onHandshakeReply(session, frame);
    return;
  }
  const pending = session.inFlight.get(id);
  if (!pending) return;
  session.inFlight.delete(id);
  session.lastReply = Date.now();
  const error = frame.command === 'error' ? fromFrame(frame) : null;
  const rateLimited = error?.code === 'rate_limited';
  if (rateLimited) session.pause(error?.retryAfter);
  else if (!error) session.ratePause = RATE_PAUSE_MS;
  switch (pending.type) {
    case 'request':
      if (pending.waiting.settled) break;
      if (rateLimited) session.insertWaiting(pending.waiting); // again after the pause
      else session.settle(pending.waiting, error ? null : frame, error);
      break;
    case 'send':
      onSendReply(session, pending.clientId, frame, error);
      break;
    case 'resume':
      if (frame.command === 'resumed' && Array.isArray(frame.messages)) {
        /** @type {HelloCodeEvent[]} */
        const out = [];
        session.chats.resumed(pending.chat, frame.messages, frame.more === true, out);
        session.deliver(out);
      } else {
        const retry = error !== null && isRetryable(error);
        if (retry) session.pause(error?.retryAfter);
        session.chats.resumeFailed(pending.chat, retry);
      }
      break;
    case 'sync':
      onChatList(session, frame, error);
      break;
    case 'keepalive':
      session.probe = null;
      break;
  }
}

/** @param {Session} session @param {string} clientId @param {Frame} frame @param {HelloCodeError | null} error */
function onSendReply(session, clientId, frame, error) {
  if (!error && frame.command === 'ack') {
    const item = session.outbox.take(clientId);
    if (item) session.settleSend(item, frame.message, null, true);
    return;
  }
  if (error && isRetryable(error)) {
    const rateLimited = error.code === 'rate_limited';
    if (!rateLimited) session.pause(error.retryAfter);
    // The rate limit and an unreachable database are waited out as long as it takes; a
    // failure of the server only so many times (it may be this message that makes it fail).
    const counted = !(rateLimited || error.code === 'unavailable');
    if (!session.outbox.retry(clientId, counted)) {
      const item = session.outbox.take(clientId);
      if (item) session.settleSend(item, null, error, true);
    }
    return;
  }
  const item = session.outbox.take(clientId);
  if (item) {
    const failure = error ?? new HelloCodeError('protocol', `expected \`ack\`, got \`${frame.command}\``);
    session.settleSend(item, null, failure, true);
  }
}

/** A page of the chat list fetched after a (re)connection. @param {Session} session @param {Frame} frame @param {HelloCodeError | null} error */
function onChatList(session, frame, error) {
  if (frame.command !== 'chats' || !Array.isArray(frame.chats)) {
    if (session.phase.name === 'first_sync') {
      session.lose(error ?? new HelloCodeError('protocol', `expected \`chats\`, got \`${frame.command}\``));
    } else {
      session.pause(error?.retryAfter);
      session.sync.needed = true;
    }
    return;
  }
  /** @type {Chat[]} */
  const page = frame.chats;
  const repeated = session.sync.pages.length > 0 && page.length > 0 && page[0].id === session.sync.pages[0].id;
  if (!repeated) session.sync.pages.push(...page);
  if (!repeated && page.length >= LIST_PAGE) {
    session.sync.after = page[page.length - 1].id;
    session.sync.needed = true;
    return;
  }
  const chats = session.sync.pages;
  session.sync = { needed: false, pages: [], after: null };
  /** @type {HelloCodeEvent[]} */
  const out = [];
  const appeared = session.chats.synced(chats, out);
  if (session.phase.name === 'first_sync') {
    session.deliver(out);
    session.becomeReady();
    return;
  }
  // Added to them while we were away: the application learns of them now.
  for (const chat of appeared) session.emit({ kind: 'chat_created', chat });
  session.deliver(out);
}

/** A frame without a request id: an event. @param {Session} session @param {Frame} frame */
function onEvent(session, frame) {
  /** @type {HelloCodeEvent[]} */
  const out = [];
  switch (frame.command) {
    case 'new_message':
      session.chats.live(frame.message, [], out);
      break;
    // The sequenced event first (a server older than version 2 sends none), then the
    // convenience; neither if the event was delivered already.
    case 'message_edited': {
      /** @type {HelloCodeEvent} */
      const edited = { kind: 'edited', message: frame.message };
      if (frame.event) session.chats.live(frame.event, [edited], out);
      else out.push(edited);
      break;
    }
    case 'message_deleted': {
      /** @type {HelloCodeEvent} */
      const deleted = { kind: 'deleted', chat: frame.chatId, seq: frame.seq };
      if (frame.event) session.chats.live(frame.event, [deleted], out);
      else out.push(deleted);
      break;
    }
    case 'chat_changed':
      onChatChanged(session, frame.chat, Array.isArray(frame.events) ? frame.events : [], out);
      break;
    case 'chat_deleted':
      session.chats.forget(frame.chatId, out);
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
    case 'online':
      out.push({ kind: 'online', users: frame.usernames });
      break;
    case 'chat_created':
      session.chats.created(frame.chat);
      out.push({ kind: 'chat_created', chat: frame.chat });
      break;
    case 'invitation':
      out.push({ kind: 'invitation', invitation: frame.invitation });
      break;
    default:
      break; // an event of a newer server: ignored, as every client must
  }
  session.deliver(out);
}

/**
 * A chat's members, roles, name or topic changed: its events in sequence, then the chat as it
 * now is. If this user left or was removed, that is the last of the chat.
 * @param {Chat} chat @param {Message[]} events @param {HelloCodeEvent[]} out
 * @param {Session} session
 */
function onChatChanged(session, chat, events, out) {
  const gone = events.some(
    (event) => (event.kind === 'leave' || event.kind === 'remove') && event.member === session.username,
  );
  /** @type {HelloCodeEvent[]} */
  let changed = [{ kind: 'chat_changed', chat }];
  events.forEach((event, index) => {
    const after = index === events.length - 1 ? changed : [];
    if (index === events.length - 1) changed = [];
    session.chats.live(event, after, out);
  });
  out.push(...changed); // no event (a server that sends none): the change itself
  if (gone) session.chats.forget(chat.id, out);
}
