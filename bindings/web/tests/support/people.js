// Users of the module's tests: a client per user, each through its own proxy, with every event
// recorded for assertions that wait for a positive marker (with a deadline), never for silence.

import { Client } from '../../hellocode.js';
import { Proxy } from './proxy.js';

export const PASSWORD = 'correct horse battery staple';
/** Reconnect quickly in tests. */
export const BACKOFF = { initialMs: 20, maxMs: 200 };

/** Every event a client reported, in order. */
export class Recorder {
  /** @param {Client} client */
  constructor(client) {
    /** @type {import('../../hellocode.js').HelloCodeEvent[]} */
    this.events = [];
    /** @type {Set<() => void>} */
    this.waiters = new Set();
    this.stop = client.addListener((event) => {
      this.events.push(event);
      for (const wake of [...this.waiters]) wake();
    });
  }

  /**
   * Wait until `done(events)` holds, at most `timeoutMs`.
   * @param {(events: import('../../hellocode.js').HelloCodeEvent[]) => boolean} done
   * @param {string} what for the failure message
   */
  async until(done, what, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.map(brief))}`);
      await new Promise((woken) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          woken(undefined);
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** The contents of the posts delivered in `chat`, in order. @param {number} chat */
  posts(chat) {
    return this.events.flatMap((event) => (event.kind === 'message' && event.message.chatId === chat ? [event.message] : []));
  }
}

/** @param {import('../../hellocode.js').HelloCodeEvent} event */
function brief(event) {
  switch (event.kind) {
    case 'message':
      return `message ${event.message.chatId}:${event.message.seq} ${event.message.content}`;
    case 'connection':
      return `connection ${event.state}`;
    default:
      return event.kind;
  }
}

/**
 * A registered user with a client through a proxy of their own.
 * @param {{host: string, port: number}} server
 * @param {string} username
 * @param {Partial<import('../../src/client.js').ConnectOptions>} [options]
 */
export async function person(server, username, options = {}) {
  const proxy = new Proxy(server.host, server.port);
  await proxy.start();
  const client = await Client.connect({
    url: proxy.url,
    credentials: { register: { username, password: PASSWORD, email: `${username}@example.org` } },
    backoff: BACKOFF,
    ...options,
  });
  const recorder = new Recorder(client);
  return {
    proxy,
    client,
    recorder,
    async close() {
      recorder.stop();
      await client.close();
      await proxy.close();
    },
  };
}
