// The client's protocol logic against a scripted WebSocket, without a server: the handshake,
// replies matched by id, dedupe and gaps, resume after a reconnect, pauses after rate_limited,
// errors without an id. (The same behaviour against a real server: client.test.js.)
//
// Run with: node --test tests/session.test.js

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Client, HelloCodeError } from '../hellocode.js';
import { Chats } from '../src/chats.js';

/** A WebSocket the test plays the server of: it records frames and fires what the test says. */
class FakeSocket {
  /** @type {FakeSocket[]} */
  static opened = [];

  /** @param {string} url */
  constructor(url) {
    this.url = url;
    /** @type {any[]} */
    this.sent = [];
    /** @type {Record<string, ((event: any) => void)[]>} */
    this.listeners = {};
    this.bufferedAmount = 0;
    this.closed = false;
    FakeSocket.opened.push(this);
  }

  /** @param {string} type @param {(event: any) => void} listener */
  addEventListener(type, listener) {
    (this.listeners[type] ??= []).push(listener);
  }

  /** @param {string} text */
  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.closed = true;
  }

  // ---- the server's side ----

  /** @param {string} type @param {any} event */
  fire(type, event) {
    for (const listener of this.listeners[type] ?? []) listener(event);
  }

  open() {
    this.fire('open', {});
  }

  /** @param {any} frame */
  receive(frame) {
    this.fire('message', { data: JSON.stringify(frame) });
  }

  drop(code = 1006, reason = '') {
    this.fire('close', { code, reason });
  }

  /** The frames written since the last call. */
  take() {
    const sent = this.sent;
    this.sent = [];
    return sent;
  }

  /** Exactly one frame, with this command. @param {string} command */
  takeOne(command) {
    const sent = this.take();
    assert.equal(sent.length, 1, `expected one ${command}, got ${JSON.stringify(sent)}`);
    assert.equal(sent[0].command, command, JSON.stringify(sent));
    return sent[0];
  }
}

/** Until the next macrotask: timers of 0 ms and socket events queued by the client have run. */
const tick = () => new Promise((next) => setTimeout(next, 5));

/** @param {number} chat @param {number} seq @param {Record<string, any>} [extra] */
const message = (chat, seq, extra = {}) => ({
  id: chat * 1000 + seq,
  chatId: chat,
  seq,
  author: 'bob',
  content: `${chat}:${seq}`,
  timestamp: '2023-11-14T22:13:20.123Z',
  ...extra,
});

/** @param {number} id @param {number} lastSeq */
const chat = (id, lastSeq) => ({
  id,
  kind: 'direct',
  participants: [{ username: 'alice' }, { username: 'bob' }],
  lastSeq,
  createdAt: '2023-11-14T22:00:00.000Z',
});

/**
 * A client connected through a fake socket: logged in as alice, with these chats.
 * @param {any[]} chats @param {Partial<import('../src/client.js').ConnectOptions>} [options]
 */
async function connected(chats = [], options = {}) {
  FakeSocket.opened = [];
  const connecting = Client.connect({
    url: 'ws://test/ws',
    credentials: { login: { username: 'alice', password: 'pw' } },
    WebSocket: /** @type {any} */ (FakeSocket),
    backoff: { initialMs: 1, maxMs: 5, jitter: 0 },
    ...options,
  });
  const socket = FakeSocket.opened[0];
  socket.open();
  const login = socket.takeOne('login');
  assert.equal(login.protocol, 2);
  socket.receive({ command: 'authenticated', id: login.id, username: 'alice', token: 't1', protocol: 2 });
  const list = socket.takeOne('list_chats');
  assert.equal(list.limit, 500);
  socket.receive({ command: 'chats', id: list.id, chats });
  const client = await connecting;
  /** @type {any[]} */
  const events = [];
  client.addListener((event) => events.push(event));
  return { client, socket, events };
}

/** The events about chat items, as `m<chat>:<seq>` (posts) and `e<chat>:<seq>` (events). @param {any[]} events */
const items = (events) =>
  events.flatMap((e) =>
    e.kind === 'message' ? [`m${e.message.chatId}:${e.message.seq}`] : e.kind === 'chat_event' ? [`e${e.event.chatId}:${e.event.seq}`] : [],
  );

describe('the session', () => {
  test('replies are matched by id, whatever their order', async () => {
    const { client, socket } = await connected();
    const first = client.getUser('bob');
    const second = client.getUser('carol');
    await tick();
    const [a, b] = socket.take();
    socket.receive({ command: 'user', id: b.id, user: { id: 2, username: 'carol' } });
    socket.receive({ command: 'user', id: a.id, user: { id: 1, username: 'bob' } });
    assert.equal((await first).username, 'bob');
    assert.equal((await second).username, 'carol');
    await client.close();
  });

  test('a refusal is an error with the server code; one without an id answers the oldest command', async () => {
    const { client, socket } = await connected();
    const refused = client.getChat(7);
    const oldest = client.ping();
    await tick();
    const [get, ping] = socket.take();
    socket.receive({ command: 'error', id: get.id, code: 'forbidden', message: 'not a participant' });
    await assert.rejects(refused, (error) => error instanceof HelloCodeError && error.code === 'forbidden' && error.server);
    socket.receive({ command: 'error', code: 'frame_too_large', message: 'too large' });
    await assert.rejects(oldest, (error) => error instanceof HelloCodeError && error.code === 'frame_too_large');
    assert.ok(ping.id > get.id);
    await client.close();
  });

  test('items are delivered once, in order; a gap is filled by a resume', async () => {
    const { client, socket, events } = await connected([chat(1, 2)]);
    socket.receive({ command: 'new_message', message: message(1, 3) });
    socket.receive({ command: 'new_message', message: message(1, 3) });
    socket.receive({ command: 'new_message', message: message(1, 6) });
    assert.deepEqual(items(events), ['m1:3']);
    await tick();
    const resume = socket.takeOne('resume');
    assert.deepEqual([resume.chatId, resume.since], [1, 3]);
    socket.receive({ command: 'new_message', message: message(1, 7) });
    socket.receive({
      command: 'resumed',
      id: resume.id,
      chatId: 1,
      messages: [message(1, 4), message(1, 5, { kind: 'join', member: 'carol' }), message(1, 6)],
      more: false,
    });
    assert.deepEqual(items(events), ['m1:3', 'm1:4', 'e1:5', 'm1:6', 'm1:7']);
    assert.deepEqual(client.positions(), { 1: 7 });
    await client.close();
  });

  test('after a lost connection: backoff, auth with the token, the chat list, resume of what moved', async () => {
    const { client, socket, events } = await connected([chat(1, 2), chat(2, 0)]);
    const asked = client.getUser('bob');
    await tick();
    socket.takeOne('get_user');
    socket.drop();
    assert.equal(client.state, 'reconnecting');
    await tick();
    const again = FakeSocket.opened[1];
    assert.ok(again, 'a new socket after the backoff');
    again.open();
    const auth = again.takeOne('auth');
    assert.deepEqual([auth.token, auth.protocol], ['t1', 2]);
    again.receive({ command: 'authenticated', id: auth.id, username: 'alice', protocol: 2 });
    assert.equal(client.state, 'connected');
    await tick();
    const sent = again.take();
    assert.deepEqual(
      sent.map((frame) => frame.command),
      ['list_chats', 'get_user'],
      'the chat list, then the request whose reply was lost',
    );
    again.receive({ command: 'chats', id: sent[0].id, chats: [chat(1, 4), chat(2, 0), chat(3, 1)] });
    again.receive({ command: 'user', id: sent[1].id, user: { id: 1, username: 'bob' } });
    assert.equal((await asked).username, 'bob');
    await tick();
    const resumes = again.take();
    assert.deepEqual(
      resumes.map((frame) => [frame.command, frame.chatId, frame.since]),
      [
        ['resume', 1, 2],
        ['resume', 3, 0],
      ],
    );
    assert.ok(events.some((e) => e.kind === 'chat_created' && e.chat.id === 3), 'chat 3 appeared while away');
    again.receive({ command: 'resumed', id: resumes[0].id, chatId: 1, messages: [message(1, 3), message(1, 4)], more: false });
    again.receive({ command: 'resumed', id: resumes[1].id, chatId: 3, messages: [message(3, 1)], more: false });
    assert.deepEqual(items(events), ['m1:3', 'm1:4', 'm3:1']);
    await client.close();
  });

  test('sends keep their client id across attempts; rate_limited pauses and resends', async () => {
    const { client, socket, events } = await connected([chat(1, 0)]);
    const sending = client.send(1, 'hi', { clientId: 'k1' });
    await tick();
    const first = socket.takeOne('new_message');
    assert.equal(first.clientId, 'k1');
    socket.receive({ command: 'error', id: first.id, code: 'rate_limited', message: 'slow down', retryAfter: 0 });
    await tick();
    assert.deepEqual(socket.take(), [], 'nothing is written during the pause');
    await new Promise((next) => setTimeout(next, 300));
    const resent = socket.takeOne('new_message');
    assert.equal(resent.clientId, 'k1');
    socket.receive({ command: 'new_message', message: message(1, 1, { clientId: 'k1', author: 'alice', content: 'hi' }) });
    socket.receive({ command: 'ack', id: resent.id, message: message(1, 1, { clientId: 'k1', author: 'alice', content: 'hi' }) });
    assert.equal((await sending).seq, 1);
    assert.deepEqual(
      events.filter((e) => ['pending', 'sent', 'message'].includes(e.kind)).map((e) => e.kind),
      ['pending', 'message', 'sent'],
    );
    await client.close();
  });

  test('a lost connection fails the commands that are not resent with connection_lost', async () => {
    const { client, socket } = await connected([chat(1, 0)]);
    const creating = client.createBotToken('bot');
    const deleting = client.deleteChat(1);
    await tick();
    assert.equal(socket.take().length, 2);
    socket.drop();
    for (const pending of [creating, deleting]) {
      await assert.rejects(pending, (error) => error instanceof HelloCodeError && error.code === 'connection_lost');
    }
    await client.close();
  });

  test('close with code 4001 and no password: the client stops with invalid_token', async () => {
    FakeSocket.opened = [];
    const connecting = Client.connect({ url: 'ws://test/ws', credentials: { token: 'bot-token' }, WebSocket: /** @type {any} */ (FakeSocket) });
    const socket = FakeSocket.opened[0];
    socket.open();
    const auth = socket.takeOne('auth');
    socket.receive({ command: 'authenticated', id: auth.id, username: 'bot', protocol: 2 });
    socket.receive({ command: 'chats', id: socket.takeOne('list_chats').id, chats: [] });
    const client = await connecting;
    socket.drop(4001, 'unauthorized: token revoked');
    assert.equal(client.state, 'closed');
    assert.equal(client.connection.error?.code, 'invalid_token');
    assert.equal(client.token, null);
    assert.equal(FakeSocket.opened.length, 1, 'no reconnection with a dead token');
  });
});

describe('the sequencer', () => {
  test('a chat the user was removed from delivers what it held, then is forgotten', () => {
    const chats = new Chats();
    /** @type {any[]} */
    const out = [];
    chats.synced([chat(1, 1)], out);
    chats.live(message(1, 3, { kind: 'remove', member: 'alice' }), [], out);
    assert.deepEqual(out, []);
    chats.forget(1, out);
    assert.deepEqual(items(out), ['e1:3']);
    assert.deepEqual(chats.takeWanted(10), []);
    chats.live(message(1, 4), [], out);
    assert.equal(out.length, 1, 'a stray frame starts nothing');
  });
});
