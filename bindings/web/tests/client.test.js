// The web client against a real server: reconnect and resume with nothing lost or doubled, the
// offline send queue (a message stored once even when its first ack was lost), persistence across
// a page reload, errors with the server's codes, request timeouts, keepalive, rate limits, close.
//
// Run with: node --experimental-websocket --test tests/client.test.js

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { Client, HelloCodeError, memoryStorage } from '../hellocode.js';
import { BACKOFF, PASSWORD, Recorder, person } from './support/people.js';
import { Proxy } from './support/proxy.js';
import { startServer } from './support/server.js';
import { png } from './support/png.js';
import { httpError } from '../src/media.js';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
let serial = 0;
/** A username no other test uses (one server serves them all). @param {string} base */
const fresh = (base) => `${base}${++serial}`;

before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/**
 * Expect `promise` to reject with a HelloCodeError of this code.
 * @param {Promise<unknown>} promise @param {string} code
 */
async function rejectsWith(promise, code) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof HelloCodeError, `not a HelloCodeError: ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

/** Two users and a direct chat between them. */
async function pair() {
  const alice = await person(server, fresh('alice'));
  const bob = await person(server, fresh('bob'));
  const chat = await alice.client.createChat([bob.client.username]);
  return { alice, bob, chat: chat.id };
}

describe('reconnect and resume', () => {
  test('a client cut off gets what it missed once, in order, and nothing twice', async () => {
    const { alice, bob, chat } = await pair();
    try {
      await alice.client.send(chat, 'before');
      await bob.recorder.until((events) => bob.recorder.posts(chat).length === 1, 'the first message');
      bob.proxy.setDown(true);
      await bob.recorder.until(
        (events) => events.some((event) => event.kind === 'connection' && event.state === 'reconnecting'),
        'reconnecting',
      );
      for (let n = 1; n <= 5; n++) await alice.client.send(chat, `while away ${n}`);
      bob.proxy.setDown(false);
      await alice.client.send(chat, 'marker');
      await bob.recorder.until((events) => bob.recorder.posts(chat).some((m) => m.content === 'marker'), 'the marker');
      const posts = bob.recorder.posts(chat);
      assert.deepEqual(
        posts.map((m) => m.seq),
        [1, 2, 3, 4, 5, 6, 7],
      );
      assert.deepEqual(
        posts.map((m) => m.content),
        ['before', 'while away 1', 'while away 2', 'while away 3', 'while away 4', 'while away 5', 'marker'],
      );
      assert.ok(bob.proxy.connections >= 2, 'bob reconnected');
      assert.deepEqual(bob.client.positions(), { [chat]: 7 });
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('a chat created while away arrives as chat_created, then its messages from the start', async () => {
    const alice = await person(server, fresh('alice'));
    const bob = await person(server, fresh('bob'));
    try {
      bob.proxy.setDown(true);
      await bob.recorder.until((events) => events.some((e) => e.kind === 'connection' && e.state === 'reconnecting'), 'reconnecting');
      const chat = await alice.client.createChat([bob.client.username]);
      await alice.client.send(chat.id, 'hello while you were away');
      bob.proxy.setDown(false);
      await bob.recorder.until((events) => bob.recorder.posts(chat.id).length === 1, 'the message');
      const kinds = bob.recorder.events
        .filter((e) => (e.kind === 'chat_created' && e.chat.id === chat.id) || e.kind === 'message')
        .map((e) => e.kind);
      assert.deepEqual(kinds, ['chat_created', 'message']);
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe('the send queue', () => {
  test('messages queued offline go out when the connection is back, each stored once under its client id', async () => {
    const { alice, bob, chat } = await pair();
    try {
      alice.proxy.setDown(true);
      await alice.recorder.until((events) => events.some((e) => e.kind === 'connection' && e.state === 'reconnecting'), 'reconnecting');
      const queued = [alice.client.enqueue(chat, 'one'), alice.client.enqueue(chat, 'two', { clientId: 'my-key-2' })];
      const sent = alice.client.send(chat, 'three');
      assert.equal(queued[1].clientId, 'my-key-2');
      assert.deepEqual(
        alice.client.pendingSends().map((p) => p.text),
        ['one', 'two', 'three'],
      );
      assert.equal(alice.recorder.events.filter((e) => e.kind === 'pending').length, 3);
      alice.proxy.setDown(false);
      const third = await sent;
      assert.equal(third.seq, 3);
      await alice.recorder.until((events) => events.filter((e) => e.kind === 'sent').length === 3, 'three sent');
      assert.deepEqual(alice.client.pendingSends(), []);
      const history = await bob.client.fetchMessages(chat);
      assert.deepEqual(
        history.map((m) => [m.seq, m.content]),
        [
          [3, 'three'],
          [2, 'two'],
          [1, 'one'],
        ],
      );
      assert.equal(history[1].clientId, 'my-key-2');
      assert.equal(history[2].clientId, queued[0].clientId);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('a send whose ack was lost is resent with the same client id and stored once', async () => {
    const { alice, bob, chat } = await pair();
    try {
      // The server gets the send, stores it, but its ack never reaches alice.
      alice.proxy.freeze('down', true);
      const sending = alice.client.send(chat, 'exactly once');
      await bob.recorder.until((events) => bob.recorder.posts(chat).length === 1, 'the message stored');
      alice.proxy.setDown(true); // the connection dies with the ack
      await alice.recorder.until((events) => events.some((e) => e.kind === 'connection' && e.state === 'reconnecting'), 'reconnecting');
      alice.proxy.setDown(false);
      const message = await sending;
      assert.equal(message.seq, 1);
      await alice.client.send(chat, 'marker');
      await bob.recorder.until((events) => bob.recorder.posts(chat).length === 2, 'the marker');
      assert.deepEqual(
        bob.recorder.posts(chat).map((m) => m.content),
        ['exactly once', 'marker'],
      );
      assert.equal((await bob.client.fetchMessages(chat)).length, 2);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('a full queue refuses at once with queue_full', async () => {
    const alice = await person(server, fresh('alice'), { sendQueue: 1 });
    const bob = await person(server, fresh('bob'));
    try {
      const chat = await alice.client.createChat([bob.client.username]);
      alice.proxy.setDown(true);
      alice.client.enqueue(chat.id, 'fits');
      assert.throws(() => alice.client.enqueue(chat.id, 'does not'), (error) => error instanceof HelloCodeError && error.code === 'queue_full');
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe('persistence across a reload', () => {
  test('a client created again with the same storage resumes from its positions and resends its queue once', async () => {
    const storage = memoryStorage();
    const aliceName = fresh('alice');
    const bob = await person(server, fresh('bob'));
    const first = await person(server, aliceName, { storage });
    const chat = (await first.client.createChat([bob.client.username])).id;
    try {
      await bob.client.send(chat, 'seen 1');
      await bob.client.send(chat, 'seen 2');
      await first.recorder.until(() => first.recorder.posts(chat).length === 2, 'two messages seen');
      first.proxy.setDown(true);
      await first.recorder.until((events) => events.some((e) => e.kind === 'connection' && e.state === 'reconnecting'), 'reconnecting');
      const queued = first.client.enqueue(chat, 'queued before the reload');
      // The page goes away: the queue stays in the storage for the next page.
      await first.client.close({ keepPending: true });
      await bob.client.send(chat, 'missed 1');
      await bob.client.send(chat, 'missed 2');

      // The reloaded page: no credentials, the token is in the storage.
      const proxy = new Proxy(server.host, server.port);
      await proxy.start();
      const again = await Client.connect({ url: proxy.url, storage, backoff: BACKOFF });
      const recorder = new Recorder(again);
      try {
        assert.equal(again.username, aliceName);
        await recorder.until(() => recorder.posts(chat).length === 3, 'what was missed, and the resent message');
        assert.deepEqual(
          recorder.posts(chat).map((m) => [m.seq, m.content]),
          [
            [3, 'missed 1'],
            [4, 'missed 2'],
            [5, 'queued before the reload'],
          ],
        );
        const pending = recorder.events.find((e) => e.kind === 'pending');
        assert.ok(pending && pending.kind === 'pending');
        assert.equal(pending.send.clientId, queued.clientId);
        await recorder.until((events) => events.some((e) => e.kind === 'sent'), 'sent');
        assert.deepEqual(again.pendingSends(), []);
        const history = await bob.client.fetchMessages(chat);
        assert.deepEqual(
          history.map((m) => m.content),
          ['queued before the reload', 'missed 2', 'missed 1', 'seen 2', 'seen 1'],
        );
        assert.equal(history[0].clientId, queued.clientId);
      } finally {
        recorder.stop();
        await again.close();
        await proxy.close();
      }
    } finally {
      await first.proxy.close();
      await bob.close();
    }
  });

  test("another user's storage is not taken over", async () => {
    const storage = memoryStorage();
    storage.set('hellocode.username', 'someone-else');
    storage.set('hellocode.pending', JSON.stringify([{ clientId: 'theirs', chat: 1, text: 'not mine' }]));
    storage.set('hellocode.positions', JSON.stringify({ 1: 5 }));
    const alice = await person(server, fresh('alice'), { storage });
    try {
      assert.deepEqual(alice.client.pendingSends(), []);
      assert.deepEqual(alice.client.positions(), {});
      assert.equal(storage.get('hellocode.username'), alice.client.username);
      assert.equal(storage.get('hellocode.token'), alice.client.token);
    } finally {
      await alice.close();
    }
  });
});

describe('errors', () => {
  test("the server's refusals carry its code and message", async () => {
    const { alice, bob, chat } = await pair();
    const carol = await person(server, fresh('carol'));
    try {
      const refused = carol.client.fetchMessages(chat);
      await rejectsWith(refused, 'forbidden');
      await refused.catch((error) => assert.ok(error.server && /not a participant/.test(error.message), error.message));
      await rejectsWith(alice.client.getUser('nobody-at-all'), 'not_found');
      await rejectsWith(alice.client.markRead(chat, 99), 'invalid_field');
      await rejectsWith(alice.client.send(chat, 'x'.repeat(8193)), 'invalid_argument');
      await rejectsWith(alice.client.send(chat, 'hi', { clientId: '' }), 'invalid_argument');
    } finally {
      await alice.close();
      await bob.close();
      await carol.close();
    }
  });

  test('connecting with refused credentials fails with their code', async () => {
    const url = server.url;
    const name = fresh('dave');
    await rejectsWith(Client.connect({ url, credentials: { login: { username: name, password: PASSWORD } } }), 'invalid_credentials');
    await rejectsWith(
      Client.connect({ url, credentials: { register: { username: name, password: '12345678', email: `${name}@example.org` } } }),
      'validation_failed',
    );
    await rejectsWith(Client.connect({ url, credentials: { token: 'not.a.token' } }), 'invalid_token');
  });

  test('a rate_limited refusal is waited out and the command retried', async () => {
    const limited = await startServer({ rate: 5, rate_burst: 3 });
    let refusals = 0;
    // The server's frames as the client gets them: were there refusals to wait out?
    class CountingWebSocket extends WebSocket {
      /** @param {string} url */
      constructor(url) {
        super(url);
        this.addEventListener('message', (event) => {
          if (JSON.parse(String(event.data)).code === 'rate_limited') refusals += 1;
        });
      }
    }
    const alice = await person(limited, fresh('alice'), { WebSocket: CountingWebSocket });
    try {
      const pings = await Promise.all(Array.from({ length: 12 }, () => alice.client.ping()));
      assert.equal(pings.length, 12);
      for (const rtt of pings) assert.ok(rtt >= 0);
      assert.ok(refusals > 0, 'the server refused some pings for now');
    } finally {
      await alice.close();
      await limited.stop();
    }
  });
});

describe('media', () => {
  /** Bytes that are no UTF-8 text and no known format: kept as they are, byte for byte. */
  const binary = () => Uint8Array.from({ length: 70_000 }, (_, i) => (i * 7919 + 3) % 251 | 0x80);

  /** @param {Uint8Array} bytes */
  const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

  test('an upload reports its progress; the message carries the files; the other member downloads the same bytes', async () => {
    const { alice, bob, chat } = await pair();
    try {
      const bytes = binary();
      /** @type {[number, number | null][]} */
      const upProgress = [];
      const file = await alice.client.uploadAttachment(chat, 'data.bin', bytes, (done, total) => upProgress.push([done, total]));
      assert.deepEqual(file, { id: sha256(bytes), name: 'data.bin', contentType: 'application/octet-stream', size: bytes.length });
      assert.deepEqual(upProgress.at(-1), [bytes.length, bytes.length], 'the last report is the whole file');
      const image = await alice.client.uploadAttachment(chat, 'tiny.png', new Blob([png(40, 30)], { type: 'image/png' }));
      assert.equal(image.contentType, 'image/png');
      assert.equal(image.width, 40);
      assert.equal(image.height, 30);
      assert.match(image.thumbnail ?? '', /^[0-9a-f]{64}$/);
      const notes = await alice.client.uploadAttachment(chat, 'notes.md', '# Notes\nRust or Zig?\n');
      assert.equal(notes.contentType, 'text/plain; charset=utf-8');

      const sent = await alice.client.sendWithAttachments(chat, 'three files', [file.id, image.id, `/api/media/${notes.id}`]);
      assert.equal(sent.content, 'three files');
      assert.deepEqual(sent.attachments, [file, image, notes]);
      await bob.recorder.until(() => bob.recorder.posts(chat).length === 1, 'the message');
      const [received] = bob.recorder.posts(chat);
      assert.deepEqual(received.attachments, [file, image, notes]);
      const alone = await alice.client.sendWithAttachments(chat, '', [image.id]);
      assert.equal(alone.content, '');
      assert.equal(alone.attachments?.length, 1);

      /** @type {[number, number | null][]} */
      const downProgress = [];
      const got = await bob.client.download(received.attachments?.[0].id ?? '', (done, total) => downProgress.push([done, total]));
      assert.equal(got.contentType, 'application/octet-stream');
      assert.ok(got.data instanceof Uint8Array);
      assert.deepEqual(got.data, bytes, 'the same bytes');
      assert.deepEqual(downProgress.at(-1), [bytes.length, bytes.length]);
      for (let i = 1; i < downProgress.length; i++) assert.ok(downProgress[i][0] >= downProgress[i - 1][0], 'progress only grows');

      const picture = await bob.client.download(`/api/media/${image.id}`);
      assert.equal(picture.contentType, 'image/png');
      assert.equal(picture.data.length, image.size);
      assert.equal(sha256(picture.data), image.id, 'the stored image, as addressed');
      const thumbnail = await bob.client.downloadThumbnail(image.id);
      assert.match(thumbnail.contentType, /^image\//);
      assert.deepEqual([...thumbnail.data.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');
      assert.deepEqual((await bob.client.download(`/api/media/${image.id}/thumbnail`)).data, thumbnail.data);
      const text = await bob.client.download(notes.id);
      assert.equal(new TextDecoder().decode(text.data), '# Notes\nRust or Zig?\n');
      await rejectsWith(bob.client.downloadThumbnail(notes.id), 'not_found');
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('a non-member may neither upload to a chat nor download its files; odd addresses are refused here', async () => {
    const { alice, bob, chat } = await pair();
    const carol = await person(server, fresh('carol'));
    try {
      const file = await alice.client.uploadAttachment(chat, 'secret.txt', 'for alice and bob only');
      const upload = carol.client.uploadAttachment(chat, 'intruder.txt', 'hello?');
      await rejectsWith(upload, 'forbidden');
      await upload.catch((error) => assert.equal(error.status, 403));
      const download = carol.client.download(file.id);
      await rejectsWith(download, 'not_found'); // not readable and not there answer alike
      await download.catch((error) => assert.ok(error.server && error.status === 404, error.message));
      // Carol cannot post alice's file in a chat of hers either.
      const own = await carol.client.createChat([alice.client.username]);
      await rejectsWith(carol.client.sendWithAttachments(own.id, 'look', [file.id]), 'not_found');
      for (const address of [
        'http://example.org/api/media/' + file.id,
        `/api/media/${file.id}/../../users`,
        '/api/media/../chat/',
        `/api/chat/${chat}/`,
        'not-an-id',
        file.id.toUpperCase(),
      ]) {
        await rejectsWith(bob.client.download(address), 'invalid_argument');
      }
      const base = bob.proxy.url.replace('ws:', 'http:').replace(/\/ws$/, '');
      assert.equal((await bob.client.download(`${base}/api/media/${file.id}`)).data.length, file.size, 'this server, absolute');
      await rejectsWith(alice.client.uploadAttachment(chat, '../etc/passwd', 'x'), 'invalid_argument');
      await rejectsWith(alice.client.uploadAttachment(chat, 'empty.txt', ''), 'invalid_argument');
      await rejectsWith(alice.client.sendWithAttachments(chat, 'x', ['nope']), 'invalid_argument');
      await rejectsWith(alice.client.sendWithAttachments(chat, 'x', Array(11).fill(file.id)), 'invalid_argument');
    } finally {
      await alice.close();
      await bob.close();
      await carol.close();
    }
  });

  test('an avatar: uploaded, on the profile as its address, downloadable by another user; a text refused', async () => {
    const { alice, bob } = await pair();
    try {
      const avatar = await alice.client.uploadAvatar('me.png', png(64, 64, [200, 80, 40]).buffer);
      assert.equal(avatar.contentType, 'image/png');
      const profile = await bob.client.getUser(alice.client.username);
      assert.equal(profile.avatar, `/api/media/${avatar.id}`);
      const got = await bob.client.download(profile.avatar ?? '');
      assert.equal(got.contentType, 'image/png');
      assert.equal(sha256(got.data), avatar.id);
      const refused = alice.client.uploadAvatar('me.txt', 'not an image');
      await rejectsWith(refused, 'invalid_field');
      await refused.catch((error) => assert.equal(error.status, 415));
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('a send with attachments waits in the queue offline, and in the storage across a reload', async () => {
    const { alice, bob, chat } = await pair();
    const storage = memoryStorage();
    let again = null;
    try {
      const file = await alice.client.uploadAttachment(chat, 'queued.txt', 'sent after the reload');
      const name = alice.client.username;
      // A client with a storage, cut off: its send stays queued, and is stored with its files.
      const proxy = new Proxy(server.host, server.port);
      await proxy.start();
      const first = await Client.connect({ url: proxy.url, credentials: { login: { username: name, password: PASSWORD } }, storage, backoff: BACKOFF });
      proxy.setDown(true);
      const pending = first.sendWithAttachments(chat, 'with a file', [file.id]);
      assert.deepEqual(first.pendingSends().map((send) => send.attachments), [[file.id]]);
      assert.deepEqual(JSON.parse(storage.get('hellocode.pending') ?? '[]')[0].attachments, [file.id]);
      await first.close({ keepPending: true });
      await rejectsWith(pending, 'closed');
      proxy.setDown(false);
      again = await Client.connect({ url: proxy.url, storage, backoff: BACKOFF });
      await bob.recorder.until(() => bob.recorder.posts(chat).length === 1, 'the queued message');
      const [received] = bob.recorder.posts(chat);
      assert.equal(received.content, 'with a file');
      assert.deepEqual(received.attachments, [file]);
      await again.close();
      await proxy.close();
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('HTTP refusals map to the codes of the WebSocket', () => {
    const coded = httpError(415, '{"code":"invalid_field","message":"the content is text/plain, not image/png"}', null);
    assert.equal(coded.code, 'invalid_field');
    assert.equal(coded.status, 415);
    assert.ok(coded.server && /not image\/png/.test(coded.message));
    const large = httpError(413, '{"code":"invalid_field","message":"the body is over 10 MiB"}', null);
    assert.equal(large.code, 'too_large', 'a 413 is too_large, as in the Rust SDK');
    assert.match(large.message, /over 10 MiB/);
    assert.equal(httpError(401, '', null).code, 'invalid_token');
    const limited = httpError(429, '{"code":"rate_limited","message":"too many uploads"}', '12');
    assert.equal(limited.code, 'rate_limited');
    assert.equal(limited.retryAfter, 12);
    assert.equal(httpError(403, '', null).code, 'forbidden');
    assert.equal(httpError(404, '<html>', null).code, 'not_found');
    const fields = httpError(422, '{"name":["too long"]}', null);
    assert.equal(fields.code, 'validation_failed');
    assert.match(fields.message, /name: too long/);
    assert.equal(httpError(502, 'bad gateway', null).code, 'internal');
  });
});

describe('push notification settings', () => {
  const APP = 'org.example.chat.android';
  const GATEWAY = 'https://push.example.org/_matrix/push/v1/notify';

  test('a pusher registered, changed, listed and removed; a chat muted and unmuted', async () => {
    const { alice, bob, chat } = await pair();
    try {
      assert.deepEqual(await bob.client.pushSettings(), { pushers: [], mutedChats: [] });
      let settings = await bob.client.setPusher({ appId: APP, pushkey: 'bob-phone', url: GATEWAY, deviceName: "Bob's phone", lang: 'en' });
      assert.equal(settings.pushers.length, 1);
      const [registered] = settings.pushers;
      assert.deepEqual(
        { ...registered, createdAt: undefined },
        { appId: APP, pushkey: 'bob-phone', url: GATEWAY, deviceName: "Bob's phone", lang: 'en', previews: true, createdAt: undefined },
      );
      assert.ok(!Number.isNaN(Date.parse(registered.createdAt)), registered.createdAt);
      assert.deepEqual(settings.mutedChats, []);

      // The same app and key: changed, not added. What is left out takes its default.
      settings = await bob.client.setPusher({ appId: APP, pushkey: 'bob-phone', url: GATEWAY, deviceName: "Bob's phone", previews: false });
      assert.deepEqual(
        settings.pushers.map((p) => [p.pushkey, p.deviceName, p.lang, p.previews]),
        [['bob-phone', "Bob's phone", '', false]],
      );
      settings = await bob.client.setPusher({ appId: APP, pushkey: 'bob-tablet', url: GATEWAY });
      assert.deepEqual(settings.pushers.map((p) => p.pushkey).sort(), ['bob-phone', 'bob-tablet']);
      assert.deepEqual((await bob.client.pushSettings()).pushers, settings.pushers);

      assert.deepEqual((await bob.client.muteChat(chat, true)).mutedChats, [chat]);
      assert.deepEqual((await bob.client.pushSettings()).mutedChats, [chat]);
      assert.deepEqual((await bob.client.muteChat(chat, true)).mutedChats, [chat], 'muting twice changes nothing');
      assert.deepEqual((await alice.client.pushSettings()).mutedChats, [], "bob's mute is his own");
      assert.deepEqual((await bob.client.muteChat(chat, false)).mutedChats, []);

      settings = await bob.client.removePusher(APP, 'bob-phone');
      assert.deepEqual(settings.pushers.map((p) => p.pushkey), ['bob-tablet']);
      settings = await bob.client.removePusher(APP, 'bob-phone');
      assert.deepEqual(settings.pushers.map((p) => p.pushkey), ['bob-tablet'], 'removing again changes nothing');
      assert.deepEqual(await bob.client.removePusher(APP, 'bob-tablet'), { pushers: [], mutedChats: [] });
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('a bad gateway URL is refused with invalid_field; a non-member may not mute a chat', async () => {
    const { alice, bob, chat } = await pair();
    const carol = await person(server, fresh('carol'));
    try {
      for (const [url, says] of [
        ['ftp://push.example.org/_matrix/push/v1/notify', 'http or https'],
        ['https://push.example.org/notify', '/_matrix/push/v1/notify'],
        ['https://user:secret@push.example.org/_matrix/push/v1/notify', 'user name'],
        [`http://${server.host}:${server.port}/_matrix/push/v1/notify`, 'this server'],
      ]) {
        const refused = bob.client.setPusher({ appId: APP, pushkey: 'k', url });
        await rejectsWith(refused, 'invalid_field');
        await refused.catch((error) => assert.ok(error.message.includes(says), error.message));
      }
      assert.deepEqual((await bob.client.pushSettings()).pushers, [], 'nothing was registered');
      await rejectsWith(carol.client.muteChat(chat, true), 'forbidden');
      await rejectsWith(bob.client.muteChat(chat + 1_000_000, true), 'not_found');
      assert.deepEqual((await carol.client.pushSettings()).mutedChats, []);
    } finally {
      await alice.close();
      await bob.close();
      await carol.close();
    }
  });
});

describe('timeouts, keepalive and close', () => {
  test('a request unanswered in time fails with timeout, offline or on a silent connection', async () => {
    const alice = await person(server, fresh('alice'), { requestTimeoutMs: 300 });
    try {
      alice.proxy.freeze('both', true);
      await rejectsWith(alice.client.ping(), 'timeout');
      alice.proxy.setDown(true);
      await rejectsWith(alice.client.listChats(), 'timeout');
      const seen = alice.recorder.events.length;
      alice.proxy.setDown(false);
      await alice.recorder.until(
        (events) => events.slice(seen).some((e) => e.kind === 'connection' && e.state === 'connected'),
        'connected again',
      );
      assert.ok((await alice.client.ping()) >= 0);
    } finally {
      await alice.close();
    }
  });

  test('the keepalive finds a dead connection and the client reconnects', async () => {
    const alice = await person(server, fresh('alice'), { keepaliveMs: 100, requestTimeoutMs: 300 });
    try {
      alice.proxy.freeze('both', true);
      await alice.recorder.until(
        (events) => events.some((e) => e.kind === 'connection' && e.state === 'reconnecting' && e.error?.code === 'timeout'),
        'the keepalive to give up',
      );
      const seen = alice.recorder.events.length;
      alice.proxy.freeze('both', false);
      await alice.recorder.until(
        (events) => events.slice(seen).some((e) => e.kind === 'connection' && e.state === 'connected'),
        'back',
      );
      assert.ok((await alice.client.ping()) >= 0);
    } finally {
      await alice.close();
    }
  });

  test('close rejects what is pending with closed, and everything after', async () => {
    const { alice, bob, chat } = await pair();
    try {
      alice.proxy.setDown(true);
      await alice.recorder.until((events) => events.some((e) => e.kind === 'connection' && e.state === 'reconnecting'), 'reconnecting');
      const sending = alice.client.send(chat, 'never');
      const asking = alice.client.listChats();
      await alice.client.close();
      await rejectsWith(sending, 'closed');
      await rejectsWith(asking, 'closed');
      await rejectsWith(alice.client.ping(), 'closed');
      assert.throws(() => alice.client.enqueue(chat, 'late'), (error) => error instanceof HelloCodeError && error.code === 'closed');
      assert.equal(alice.client.state, 'closed');
      const last = alice.recorder.events.at(-1);
      assert.deepEqual(last && last.kind === 'connection' && [last.state, last.error], ['closed', null]);
    } finally {
      await alice.close();
      await bob.close();
    }
  });

  test('events() ends when the client closes', async () => {
    const alice = await person(server, fresh('alice'));
    const stream = alice.client.events();
    await alice.close();
    const seen = [];
    for await (const event of stream) seen.push(event);
    assert.deepEqual(seen.at(-1), { kind: 'connection', state: 'closed', error: null });
  });
});
