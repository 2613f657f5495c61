// A real HelloCode server for the tests: the binary on a random loopback port, with an empty
// in-memory database, as the Python and Kotlin runners start it.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** Every test client comes from 127.0.0.1 and registers many users: lift the abuse limits. */
const NO_ABUSE_LIMITS = [
  '--login-rate-per-address', '1000000',
  '--login-rate-per-user', '1000000',
  '--rest-rate', '1000000',
  '--rest-burst', '1000000',
  '--languages-per-hour', '1000000',
  '--chats-per-minute', '1000000',
  '--participant-additions-per-minute', '1000000',
  '--invitations-per-minute', '1000000',
  '--invite-links-per-minute', '1000000',
  '--max-connections-per-address', '1000000',
  '--max-connections-per-user', '1000000',
];

export function serverBinary() {
  return process.env.HELLOCODE_SERVER_BIN ?? join(REPO, 'target', 'debug', 'hellocode-server');
}

/**
 * Start a server; `settings` are the scenario's (`rate`, `rate_burst`).
 * @param {{rate?: number, rate_burst?: number}} [settings]
 * @returns {Promise<{host: string, port: number, url: string, stop: () => Promise<void>}>}
 */
export async function startServer(settings = {}) {
  const flags = { rate: '--rate', rate_burst: '--rate-burst' };
  const extra = [];
  for (const [key, value] of Object.entries(settings)) {
    const flag = flags[/** @type {keyof typeof flags} */ (key)];
    if (!flag) throw new Error(`unknown server setting ${key}`);
    extra.push(flag, String(value));
  }
  if (!('rate' in settings)) extra.push('--rate', '10000', '--rate-burst', '10000');
  const dataDir = mkdtempSync(join(tmpdir(), 'hellocode-web-'));
  const child = spawn(
    serverBinary(),
    ['--addr', '127.0.0.1:0', '--database', 'memory', '--data-dir', dataDir, ...NO_ABUSE_LIMITS, ...extra],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const exited = new Promise((done) => child.once('exit', done));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const { host, port } = await new Promise((found, failed) => {
      let seen = '';
      const timer = setTimeout(() => failed(new Error(`the server did not start: ${seen}`)), 30_000);
      child.once('error', (error) => {
        clearTimeout(timer);
        failed(new Error(`cannot run ${serverBinary()}: ${error.message} (cargo build -p hellocode-server)`));
      });
      child.once('exit', () => {
        clearTimeout(timer);
        failed(new Error(`the server exited: ${seen}`));
      });
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        if (seen.length < 10_000) seen += chunk;
        const match = /listening on http:\/\/([0-9.]+):(\d+)/.exec(seen);
        if (match) {
          clearTimeout(timer);
          found({ host: match[1], port: Number(match[2]) });
        }
      });
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const reply = await fetch(`http://${host}:${port}/healthz`);
        if (reply.ok) break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await new Promise((next) => setTimeout(next, 20));
    }
    return { host, port, url: `ws://${host}:${port}/ws`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
