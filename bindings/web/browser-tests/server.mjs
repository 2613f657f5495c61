// A real HelloCode server for the browser tests: the binary named by HELLOCODE_SERVER_BIN (the
// run-tests.sh script builds it), a fresh SQLite data directory, a port the OS picks, and the
// abuse limits lifted (every test user signs in from 127.0.0.1).

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIFTED = [
  '--login-rate-per-address', '1000000', '--login-rate-per-user', '1000000',
  '--rest-rate', '1000000', '--rest-burst', '1000000',
  '--max-connections-per-address', '100000', '--max-connections-per-user', '100000',
  '--chats-per-minute', '1000000', '--languages-per-hour', '1000000',
  '--participant-additions-per-minute', '1000000', '--hash-queue', '1000',
];

/** Start the server; resolves with `{origin, stop()}` once it listens (within 30 s). */
export async function startServer() {
  const binary = process.env.HELLOCODE_SERVER_BIN;
  if (!binary) throw new Error('set HELLOCODE_SERVER_BIN to the hellocode-server binary (run-tests.sh does)');
  const dataDir = mkdtempSync(join(tmpdir(), 'hellocode-web-'));
  const child = spawn(binary, ['--addr', '127.0.0.1:0', '--data-dir', dataDir, '--log-format', 'text', ...LIFTED], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  let log = '';
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 30 s:\n${log}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      log += chunk;
      const found = log.match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.stderr.on('data', (chunk) => (log += chunk));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}):\n${log}`));
    });
  });
  return {
    origin,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
