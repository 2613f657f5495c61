// The transcript scenarios (bindings/conformance/scenarios/*.json) against the web client: the
// Node runner of the suite every SDK language runs, interpreting the files exactly as the format's
// README, the Rust runner (bindings/conformance/tests/rust_sdk.rs) and the Python runner do.
//
// Each scenario gets a fresh server (its `server` settings become `--rate`/`--rate-burst`), each
// user talks to it through a proxy of its own that can cut the user off, and results and events
// are compared in the canonical JSON of `support/canonical.js`.
//
// Run with: node --experimental-websocket --test tests/conformance.test.js

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

import { Client, HelloCodeError } from '../hellocode.js';
import * as canonical from './support/canonical.js';
import { StepFailed, lacks, mismatch, substitute } from './support/match.js';
import { Proxy } from './support/proxy.js';
import { startServer } from './support/server.js';

const SCENARIOS = resolve(dirname(fileURLToPath(import.meta.url)), '../../conformance/scenarios');
/** Every user's password unless a step gives another. */
const PASSWORD = 'correct horse battery staple';
/** How long an expected event may take. */
const EVENT_WAIT_MS = 10_000;
/** Reconnect quickly, as every runner does (20 ms, growing up to 200 ms). */
const BACKOFF = { initialMs: 20, maxMs: 200 };

/** Events in arrival order, awaited one at a time with a deadline. */
class EventQueue {
  constructor() {
    /** @type {any[]} */
    this.items = [];
    /** @type {(() => void) | null} */
    this.wake = null;
  }

  /** @param {any} event */
  push(event) {
    this.items.push(event);
    this.wake?.();
  }

  /** The next event, or null once `deadline` passes. @param {number} deadline */
  async next(deadline) {
    while (this.items.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      /** @type {ReturnType<typeof setTimeout> | undefined} */
      let timer;
      await new Promise((woken) => {
        this.wake = () => woken(undefined);
        timer = setTimeout(() => woken(undefined), left);
      });
      clearTimeout(timer);
      this.wake = null;
    }
    return this.items.shift();
  }
}

class Person {
  /** @param {Proxy} proxy */
  constructor(proxy) {
    this.proxy = proxy;
    /** @type {Client | null} */
    this.client = null;
    this.events = new EventQueue();
    /** @type {string | null} */
    this.token = null;
    /** @type {(() => void) | null} */
    this.stopEvents = null;
  }

  async close() {
    this.stopEvents?.();
    this.stopEvents = null;
    if (this.client) await this.client.close();
  }
}

class Run {
  /** @param {string} host @param {number} port */
  constructor(host, port) {
    this.host = host;
    this.port = port;
    /** @type {Map<string, Person>} */
    this.people = new Map();
    /** @type {Record<string, any>} */
    this.saved = {};
  }

  /** @param {string} user */
  async person(user) {
    let person = this.people.get(user);
    if (!person) {
      const proxy = new Proxy(this.host, this.port);
      await proxy.start();
      person = new Person(proxy);
      this.people.set(user, person);
    }
    return person;
  }

  /** @param {string} user */
  async client(user) {
    const client = (await this.person(user)).client;
    if (!client) throw new StepFailed(`${user} not connected`);
    return client;
  }

  async finish() {
    for (const person of this.people.values()) {
      await person.close();
      await person.proxy.close();
    }
  }

  /** @param {Record<string, any>} step */
  async step(step) {
    const user = step.user;
    if ('connect' in step) {
      await this.connect(step);
    } else if (step.disconnect) {
      (await this.person(user)).proxy.setDown(true);
    } else if (step.reconnect) {
      (await this.person(user)).proxy.setDown(false);
    } else if ('event' in step) {
      await this.expectEvent(user, substitute(step.event, this.saved));
    } else if ('call' in step) {
      const args = substitute(step.args ?? {}, this.saved);
      let value;
      try {
        value = await callOperation(await this.client(user), step.call, args);
      } catch (error) {
        if (!(error instanceof HelloCodeError)) throw error;
        if (!('error' in step)) throw new StepFailed(`error ${error.code} (${error.message})`);
        expectError(error, step.error, step.error_says);
        return;
      }
      if ('error' in step) throw new StepFailed(`expected error ${step.error}, got ${JSON.stringify(value)}`);
      if ('expect' in step) check(substitute(step.expect, this.saved), value);
      if ('lacks' in step) {
        const why = lacks(substitute(step.lacks, this.saved), value);
        if (why !== null) throw new StepFailed(why);
      }
      if ('save' in step) this.saved[step.save] = value;
    } else {
      throw new StepFailed('no action');
    }
  }

  /** @param {string} user @param {Record<string, any>} expected */
  async expectEvent(user, expected) {
    const kind = expected.kind;
    const events = (await this.person(user)).events;
    const deadline = Date.now() + EVENT_WAIT_MS;
    for (;;) {
      const event = await events.next(deadline);
      if (event === null) throw new StepFailed(`no ${kind} event within ${EVENT_WAIT_MS} ms`);
      const actual = canonical.event(event);
      if (actual.kind !== kind) continue;
      const why = mismatch(expected, actual);
      if (why === null) return;
      // Connection events: the states before the expected one are skipped.
      if (kind !== 'connection') throw new StepFailed(why);
    }
  }

  /** @param {Record<string, any>} step */
  async connect(step) {
    const user = step.user;
    const person = await this.person(user);
    const password = step.password ?? PASSWORD;
    const email = `${user}@example.org`;
    /** @type {import('../src/client.js').Credentials} */
    let credentials;
    switch (step.connect) {
      case 'register':
        credentials = { register: { username: user, password, email } };
        break;
      case 'login':
        credentials = { login: { username: user, password } };
        break;
      case 'register_or_login':
        credentials = { registerOrLogin: { username: user, password, email } };
        break;
      case 'token': {
        const given = substitute(step.args ?? {}, this.saved);
        const token = given.token ?? person.token;
        if (!token) throw new StepFailed('no token saved yet');
        credentials = { token };
        break;
      }
      default:
        throw new StepFailed(`unknown way to connect: ${step.connect}`);
    }
    const config = step.config ?? {};
    /** @type {import('../src/client.js').ConnectOptions} */
    const options = { url: person.proxy.url, credentials, backoff: BACKOFF };
    if ('send_queue' in config) options.sendQueue = config.send_queue;
    if ('request_timeout_ms' in config) options.requestTimeoutMs = config.request_timeout_ms;
    let client;
    try {
      client = await Client.connect(options);
    } catch (error) {
      if (!(error instanceof HelloCodeError)) throw error;
      if (!('error' in step)) throw new StepFailed(`connect failed: ${error.code} (${error.message})`);
      expectError(error, step.error);
      return;
    }
    if ('error' in step) {
      await client.close();
      throw new StepFailed(`expected error ${step.error}, connected`);
    }
    // The new client replaces the user's earlier one (if any), which is closed.
    await person.close();
    const events = new EventQueue();
    if (step.listener) {
      person.stopEvents = client.addListener((event) => events.push(event));
    } else {
      const stream = client.events();
      person.stopEvents = () => void stream.return?.();
      void (async () => {
        for await (const event of stream) events.push(event);
      })();
    }
    person.token = client.token;
    person.client = client;
    person.events = events;
  }
}

/** @param {any} expected @param {any} actual */
function check(expected, actual) {
  const why = mismatch(expected, actual);
  if (why !== null) throw new StepFailed(why);
}

/** @param {HelloCodeError} error @param {string} code @param {string} [says] */
function expectError(error, code, says) {
  if (error.code !== code) throw new StepFailed(`expected error ${code}, got ${error.code} (${error.message})`);
  if (says !== undefined && !error.message.includes(says)) {
    throw new StepFailed(`the error does not say ${JSON.stringify(says)}: ${error.message}`);
  }
}

/**
 * One operation with the scenario's arguments, by its Rust name; its result in canonical JSON.
 * Every operation of `OPERATIONS` (bindings/conformance/src/lib.rs) has a case here: the parity
 * check (bindings/conformance/tests/parity.rs) reads this file.
 * @param {Client} client @param {string} call @param {Record<string, any>} args
 * @returns {Promise<any>}
 */
async function callOperation(client, call, args) {
  switch (call) {
    case 'send':
      return canonical.message(await client.send(args.chat, args.text));
    case 'send_with_client_id':
      return canonical.message(await client.sendWithClientId(args.chat, args.text, args.client_id));
    case 'enqueue':
      return canonical.pending(client.enqueue(args.chat, args.text));
    case 'enqueue_with_client_id':
      return canonical.pending(client.enqueueWithClientId(args.chat, args.text, args.client_id));
    case 'pending_sends':
      return client.pendingSends().map(canonical.pending);
    case 'fetch_messages':
      return (await client.fetchMessages(args.chat, { before: args.before, limit: args.limit })).map(canonical.message);
    case 'history':
    case 'history_before': {
      const messages = [];
      const history = call === 'history' ? client.history(args.chat) : client.historyBefore(args.chat, args.seq);
      for await (const message of history) messages.push(canonical.message(message));
      return messages;
    }
    case 'create_chat':
      return canonical.chat(await client.createChat(args.participants));
    case 'create_group':
      return canonical.chat(await client.createGroup(args.name, args.participants));
    case 'chat_with':
      return canonical.chat(await client.chatWith(args.usernames));
    case 'add_participants':
      return canonical.chat(await client.addParticipants(args.chat, args.usernames));
    case 'get_chat':
      return canonical.chat(await client.getChat(args.chat));
    case 'remove_participant':
      return canonical.chat(await client.removeParticipant(args.chat, args.username));
    case 'leave_chat':
      return (await client.leaveChat(args.chat)) ?? null;
    case 'set_role':
      return canonical.chat(await client.setRole(args.chat, args.username, args.role));
    case 'update_chat':
      return canonical.chat(await client.updateChat(args.chat, { name: args.name, topic: args.topic }));
    case 'delete_chat':
      return (await client.deleteChat(args.chat)) ?? null;
    case 'list_chats':
      return (await client.listChats()).map(canonical.chat);
    case 'find_users':
      return (await client.findUsers({ language: args.language })).map(canonical.user);
    case 'typing':
      return (await client.typing(args.chat)) ?? null;
    case 'mark_read':
      return (await client.markRead(args.chat, args.seq)) ?? null;
    case 'read_positions':
      return (await client.readPositions(args.chat)).map((p) => ({ username: p.username, seq: p.seq }));
    case 'edit_message':
      return canonical.message(await client.editMessage(args.chat, args.seq, args.text));
    case 'delete_message':
      return (await client.deleteMessage(args.chat, args.seq)) ?? null;
    case 'ping':
      return (await client.ping()) >= 0;
    case 'positions':
      return client.positions();
    case 'get_user':
      return canonical.user(await client.getUser(args.username));
    case 'update_profile':
      return canonical.user(await client.updateProfile({ timezone: args.timezone, languages: args.languages }));
    case 'languages':
      return (await client.languages()).map(canonical.language);
    case 'add_language':
      return canonical.language(await client.addLanguage(args.name));
    case 'contacts':
      return client.contacts();
    case 'add_contact':
      return client.addContact(args.username);
    case 'remove_contact':
      return client.removeContact(args.username);
    case 'set_pusher':
      return canonical.pushSettings(
        await client.setPusher({
          appId: args.app_id,
          pushkey: args.pushkey,
          url: args.url,
          deviceName: args.device_name,
          lang: args.lang,
          previews: args.previews,
        }),
      );
    case 'remove_pusher':
      return canonical.pushSettings(await client.removePusher(args.app_id, args.pushkey));
    case 'push_settings':
      return canonical.pushSettings(await client.pushSettings());
    case 'mute_chat':
      return canonical.pushSettings(await client.muteChat(args.chat, args.muted));
    case 'create_bot_token':
      return canonical.issuedBotToken(await client.createBotToken(args.name));
    case 'bot_tokens':
      return (await client.botTokens()).map(canonical.botToken);
    case 'revoke_bot_token':
      return (await client.revokeBotToken(args.id)) ?? null;
    case 'invite':
      return canonical.invitation(await client.invite(args.chat, args.username));
    case 'invitations':
      return (await client.invitations()).map(canonical.invitation);
    case 'accept_invitation':
      return canonical.chat(await client.acceptInvitation(args.id));
    case 'decline_invitation':
      return (await client.declineInvitation(args.id)) ?? null;
    case 'cancel_invitation':
      return (await client.cancelInvitation(args.id)) ?? null;
    case 'create_invite_link':
      return canonical.issuedInviteLink(
        await client.createInviteLink(args.chat, { expiresIn: args.expires_in, maxUses: args.max_uses }),
      );
    case 'invite_links':
      return (await client.inviteLinks(args.chat)).map(canonical.inviteLink);
    case 'revoke_invite_link':
      return (await client.revokeInviteLink(args.chat, args.link)) ?? null;
    case 'join_by_link':
      return canonical.chat(await client.joinByLink(args.token));
    case 'upload_attachment':
    case 'upload_avatar': {
      const data = fileBytes(args);
      const progress = lastProgress();
      const uploaded = call === 'upload_attachment'
        ? await client.uploadAttachment(args.chat, args.name, data, progress.callback)
        : await client.uploadAvatar(args.name, data, progress.callback);
      progress.finished(data.length);
      return canonical.attachment(uploaded);
    }
    case 'download':
    case 'download_thumbnail': {
      const progress = lastProgress();
      const downloaded = call === 'download'
        ? await client.download(args.media, progress.callback)
        : await client.downloadThumbnail(args.media, progress.callback);
      progress.finished(downloaded.data.length);
      return canonical.download(downloaded);
    }
    case 'send_with_attachments':
      return canonical.message(await client.sendWithAttachments(args.chat, args.text, args.attachments));
    case 'close':
      return (await client.close()) ?? null;
    case 'username':
      return client.username;
    case 'token':
      return client.token !== null;
    case 'state':
      return canonical.state(client.connection);
    default:
      throw new StepFailed(`no operation ${call}`);
  }
}

/**
 * A transfer's progress callback that keeps its last call; `finished(size)` fails the step
 * unless that call was (size, size), as every runner checks.
 */
function lastProgress() {
  /** @type {[number, number] | null} */
  let last = null;
  return {
    /** @param {number} done @param {number} total */
    callback: (done, total) => {
      last = [done, total];
    },
    /** @param {number} size */
    finished: (size) => {
      if (last === null || last[0] !== size || last[1] !== size) {
        throw new StepFailed(`the last progress was ${JSON.stringify(last)}, not [${size}, ${size}]`);
      }
    },
  };
}

/** A file's bytes in a scenario: `text` (as UTF-8) or `base64`. @param {Record<string, any>} args */
function fileBytes(args) {
  if (typeof args.text === 'string') return new TextEncoder().encode(args.text);
  if (typeof args.base64 === 'string') return new Uint8Array(Buffer.from(args.base64, 'base64'));
  throw new StepFailed('a file needs `text` or `base64`');
}

/** @param {Record<string, any>} step */
function describe(step) {
  for (const action of ['connect', 'call', 'event']) {
    if (action in step) return `${step.user}: ${action} ${JSON.stringify(step[action])}`;
  }
  return `${step.user}: ${step.disconnect ? 'disconnect' : 'reconnect'}`;
}

/** @param {string} fileName @param {Record<string, any>} scenario */
async function play(fileName, scenario) {
  const server = await startServer(scenario.server ?? {});
  const run = new Run(server.host, server.port);
  try {
    for (const [index, step] of scenario.steps.entries()) {
      try {
        await run.step(step);
      } catch (error) {
        if (!(error instanceof StepFailed)) throw error;
        throw new StepFailed(`scenario ${fileName} (${scenario.name}), step ${index} [${describe(step)}]: ${error.message}`);
      }
    }
  } finally {
    await run.finish();
    await server.stop();
  }
}

const files = readdirSync(SCENARIOS)
  .filter((name) => name.endsWith('.json'))
  .sort();

test('there are at least 15 scenarios', () => {
  assert.ok(files.length >= 15, `found ${files.length}`);
});

test('matching follows the README', () => {
  const actual = { author: 'alice', content: 'hi', seq: 1, id: 77 };
  assert.equal(mismatch({ author: 'alice', seq: 1, id: '*' }, actual), null);
  assert.notEqual(mismatch({ content: 'bye' }, actual), null);
  assert.notEqual(mismatch([{ seq: 2 }], [{ seq: 2 }, { seq: 1 }]), null);
  assert.notEqual(mismatch({ a: '*' }, { b: 1 }), null);
  assert.equal(mismatch(null, null), null);
  assert.notEqual(mismatch(true, 1), null, 'booleans are not numbers in JSON');
  const languages = [{ name: 'C' }, { name: 'Rust' }];
  assert.equal(mismatch({ $contains: [{ name: 'Rust' }] }, languages), null);
  assert.notEqual(mismatch({ $contains: [{ name: 'Gleam' }] }, languages), null);
  const saved = { chat: { id: 7, participants: ['alice', 'bob'] } };
  assert.deepEqual(substitute({ chat: '$chat.id', who: '$chat.participants.1', n: 3 }, saved), { chat: 7, who: 'bob', n: 3 });
  assert.throws(() => substitute('$nope', saved), StepFailed);
  assert.equal(lacks([8], { 7: 3, 9: 1 }), null);
  assert.notEqual(lacks([9], { 7: 3, 9: 1 }), null);
  assert.equal(lacks([{ id: 8 }], [{ id: 7 }, { id: 9 }]), null);
  assert.notEqual(lacks([{ id: 9 }], [{ id: 7 }, { id: 9 }]), null);
});

for (const fileName of files) {
  test(`scenario ${fileName}`, { timeout: 120_000 }, async () => {
    const scenario = JSON.parse(readFileSync(join(SCENARIOS, fileName), 'utf8'));
    await play(fileName, scenario);
  });
}
