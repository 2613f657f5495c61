// The web app's weight and speed, measured in headless Chromium against a fresh server (the
// figures of BENCHMARKS.md). For each of RUNS cold loads (a new browser context: empty cache) of
// a signed-in page: the bytes of every HTTP response body, and the time from the start of the
// navigation to the newest message shown in the chat list.
//
//   HELLOCODE_SERVER_BIN=target/release/hellocode-server node bindings/web/browser-tests/measure.mjs

import { launch } from './browser.mjs';
import { startServer } from './server.mjs';

const RUNS = Number(process.env.RUNS ?? 9);
const PASSWORD = 'correct horse battery';
const MARKER = 'the newest message, to be shown';

async function rest(origin, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(origin + path, { method: 'POST', headers, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function user(origin, username) {
  await rest(origin, '/api/register/', {
    username, email: `${username}@example.org`, password: PASSWORD, password_confirmation: PASSWORD,
  });
  return (await rest(origin, '/api/login/', { username, password: PASSWORD })).token;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const server = await startServer();
const browser = await launch();
try {
  const alice = await user(server.origin, 'alice');
  await user(server.origin, 'bob');
  const chat = await rest(server.origin, '/api/chat/create/', { participants: ['bob'] }, alice);
  for (let i = 1; i <= 30; i += 1) {
    const text = i === 30 ? MARKER : `message ${i} of the history`;
    await rest(server.origin, `/api/chat/${chat.id}/messages/`, { message: text }, alice);
  }
  const times = [];
  const sizes = [];
  let requests = 0;
  for (let run = 0; run < RUNS; run += 1) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addInitScript((token) => {
      localStorage.setItem('hellocode:session', JSON.stringify({ username: 'alice', token }));
    }, alice);
    const page = await context.newPage();
    const bodies = [];
    page.on('response', (response) => bodies.push(response.body().then((body) => body.length, () => 0)));
    await page.goto(server.origin + '/');
    const shown = await page.waitForFunction(
      (marker) => [...document.querySelectorAll('.preview')].some((node) => node.textContent.includes(marker)) && performance.now(),
      MARKER,
      { polling: 'raf', timeout: 15_000 },
    );
    times.push(await shown.jsonValue());
    const lengths = await Promise.all(bodies);
    sizes.push(lengths.reduce((sum, length) => sum + length, 0));
    requests = lengths.length;
    await context.close();
  }
  console.log(`runs: ${RUNS}`);
  console.log(`HTTP responses per load: ${requests}; bodies: ${median(sizes)} bytes (${(median(sizes) / 1024).toFixed(1)} KiB)`);
  console.log(`navigation start to the newest message shown: median ${median(times).toFixed(0)} ms, ` +
    `min ${Math.min(...times).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`);
} finally {
  await browser.close();
  await server.stop();
}
