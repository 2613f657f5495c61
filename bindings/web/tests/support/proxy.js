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
    /** Bytes are held, not forwarded: `up` client to server, `down` server to client. */
    this.frozen = { up: false, down: false };
    /** @type {{up: (() => void)[], down: (() => void)[]}} forwarding held back by a freeze */
    this.held = { up: [], down: [] };
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
      this.forward(client, upstream, 'up');
      this.forward(upstream, client, 'down');
    });
  }

  /**
   * @param {import('node:net').Socket} source @param {import('node:net').Socket} sink
   * @param {'up' | 'down'} direction
   */
  forward(source, sink, direction) {
    source.on('data', (data) => {
      const write = () => {
        if (!sink.destroyed) sink.write(data);
      };
      if (this.frozen[direction]) this.held[direction].push(write);
      else write();
    });
  }

  /**
   * Stop forwarding bytes in one direction while keeping the connections open (a silent
   * network), or forward again what was held.
   * @param {'up' | 'down' | 'both'} direction @param {boolean} frozen
   */
  freeze(direction, frozen) {
    for (const which of direction === 'both' ? /** @type {const} */ (['up', 'down']) : [direction]) {
      this.frozen[which] = frozen;
      if (!frozen) {
        const held = this.held[which];
        this.held[which] = [];
        for (const write of held) write();
      }
    }
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
    if (down) {
      // What a freeze held back is lost with the connections.
      this.held = { up: [], down: [] };
      this.frozen = { up: false, down: false };
      for (const socket of this.sockets) socket.destroy();
    }
  }

  async close() {
    this.setDown(true);
    await new Promise((closed) => this.server.close(() => closed(undefined)));
  }
}
