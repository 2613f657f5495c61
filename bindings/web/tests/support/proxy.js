// A loopback TCP proxy per user, so a test can cut a user's connection and keep it down (as
// bindings/conformance/tests/support/proxy.rs and the Python runner's proxy do).

import { createConnection, createServer } from 'node:net';

export class Proxy {
  /** @param {string} host @param {number} port of the server */
  constructor(host, port) {
    this.upstream = { host, port };
    this.down = false;
    /** @type {Set<import('node:net').Socket>} */
    this.sockets = new Set();
    this.connections = 0;
    this.server = createServer((client) => {
      if (this.down) {
        client.destroy(); // down: the client sees its connection fail, and retries
        return;
      }
      this.connections += 1;
      const upstream = createConnection(this.upstream);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  /** @returns {Promise<number>} the port it listens on */
  async start() {
    await new Promise((listening) => this.server.listen(0, '127.0.0.1', () => listening(undefined)));
    const address = this.server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no proxy address');
    this.port = address.port;
    return address.port;
  }

  /** The WebSocket endpoint through this proxy. */
  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  /** Refuse new connections and cut the open ones (true), or accept again (false). @param {boolean} down */
  setDown(down) {
    this.down = down;
    if (down) for (const socket of this.sockets) socket.destroy();
  }

  async close() {
    this.setDown(true);
    await new Promise((closed) => this.server.close(() => closed(undefined)));
  }
}
