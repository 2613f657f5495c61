// The web app in real headless Chromium against a real server: two people register in two
// browser contexts, find each other by language and chat; one goes offline, writes, comes back;
// reloads; mutes a chat's notifications; edits, deletions, read receipts, typing, links and a
// <script> that must stay text; files: an image inline, a text file to download, an avatar.
// Writes the screenshots of docs/screenshots/. Run by ../run-tests.sh.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { DESKTOP, PHONE, cspViolations, launch, openPage } from './browser.mjs';
import { startServer } from './server.mjs';
import { png } from '../tests/support/png.js';

const SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
const PATIENCE = 15_000;
const PASSWORD = 'correct horse battery';

let server;
let browser;
const pages = [];

before(async () => {
  server = await startServer();
  browser = await launch();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function newPage(viewport = DESKTOP) {
  const opened = await openPage(browser, viewport);
  opened.page.setDefaultTimeout(PATIENCE);
  pages.push(opened);
  return opened;
}

function shoot(page, name) {
  return page.screenshot({ path: `${SCREENSHOTS}${name}.png`, animations: 'disabled', caret: 'initial' });
}

/**
 * A context's network, switched by Chromium's network emulation (`setOffline`). The emulation
 * fails new connections but leaves an open WebSocket alone; the page learns of it from the
 * browser's `offline` event, on which the client module gives its connection up (and on
 * `online` reconnects at once): that is what this switch tests.
 */
function network(context) {
  return {
    offline: () => context.setOffline(true),
    online: () => context.setOffline(false),
  };
}

/** Register through the form; the profile dialog opens; pick `languages`, save. */
async function register(page, username, languages) {
  await page.click('#tab-register');
  await page.fill('#register-username', username);
  await page.fill('#register-email', `${username}@example.org`);
  await page.fill('#register-password', PASSWORD);
  await page.fill('#register-confirmation', PASSWORD);
  await page.click('#register-form button[type="submit"]');
  await page.locator('#profile[open]').waitFor();
  for (const language of languages) {
    await page.locator('#profile-languages label', { hasText: new RegExp(`^${language}$`) }).click();
  }
  await page.click('#profile-form button[type="submit"]');
  await page.locator('#profile').waitFor({ state: 'hidden' });
}

function message(page, text) {
  return page.locator('#messages li.message', { hasText: text });
}

async function send(page, text) {
  await page.fill('#composer-text', text);
  await page.press('#composer-text', 'Enter');
}

let alice;
let bob;
let bobNetwork;

test('the page comes with its security headers and a sign-in form', async () => {
  alice = await newPage();
  const response = await alice.page.goto(server.origin + '/');
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /default-src 'none'; script-src 'self'/);
  assert.doesNotMatch(headers['content-security-policy'], /unsafe/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.equal(headers['x-frame-options'], 'DENY');
  await alice.page.locator('#login-form').waitFor();
  assert.equal(await alice.page.evaluate(() => document.activeElement?.id), 'login-username');
  await shoot(alice.page, 'sign-in-desktop');
  const phone = await newPage(PHONE);
  await phone.page.goto(server.origin + '/');
  await phone.page.locator('#login-form').waitFor();
  await shoot(phone.page, 'sign-in-phone');
  await phone.context.close();
});

test('registration shows the password rules beside the field, then signs in', async () => {
  const { page } = alice;
  await page.click('#tab-register');
  await page.fill('#register-username', 'alice');
  await page.fill('#register-email', 'alice@example.org');
  await page.fill('#register-password', 'short');
  await page.fill('#register-confirmation', 'short');
  await page.click('#register-form button[type="submit"]');
  await page.locator('#register-password-error', { hasText: 'too short' }).waitFor();
  assert.equal(await page.getAttribute('#register-password', 'aria-invalid'), 'true');
  // A rule only the server knows: its answer lands beside the same field.
  await page.fill('#register-password', 'qwertyuiop');
  await page.fill('#register-confirmation', 'qwertyuiop');
  await page.click('#register-form button[type="submit"]');
  await page.locator('#register-password-error', { hasText: 'too common' }).waitFor();
  await page.fill('#register-password', PASSWORD);
  await page.fill('#register-confirmation', PASSWORD);
  await page.click('#register-form button[type="submit"]');
  await page.locator('#profile[open]').waitFor();
  await page.locator('#profile-languages label', { hasText: /^Rust$/ }).click();
  await page.locator('#profile-languages label', { hasText: /^Go$/ }).click();
  await page.click('#profile-form button[type="submit"]');
  await page.locator('#profile').waitFor({ state: 'hidden' });
  assert.equal(await page.textContent('#me'), 'alice');

  bob = await newPage();
  bobNetwork = network(bob.context);
  await bob.page.goto(server.origin + '/');
  await register(bob.page, 'bob', ['Rust']);
});

test('people find each other by language and chat both ways, live', async () => {
  const { page } = alice;
  await page.click('#open-people');
  await page.selectOption('#people-language', 'Rust');
  await page.click('#people-search button[type="submit"]');
  await page.locator('#people-results label', { hasText: 'bob' }).click();
  await page.click('#people-start');
  await page.locator('#chat-pane').waitFor();
  assert.equal(await page.textContent('#chat-title'), 'bob');

  await send(page, 'Hello bob! Rust or Go today?');
  await message(page, 'Hello bob!').waitFor();
  // Bob's list learns of the chat and counts the message unread.
  const item = bob.page.locator('#chat-list .chat-item', { hasText: 'alice' });
  await item.locator('.badge', { hasText: '1' }).waitFor();
  await item.click();
  await message(bob.page, 'Hello bob!').waitFor();
  await item.locator('.badge').waitFor({ state: 'detached' });

  await send(bob.page, 'Rust, always. Have you read `Pin` docs?');
  await message(page, 'Rust, always').waitFor();
  assert.equal(await message(page, 'Rust, always').locator('code.inline-code').textContent(), 'Pin');
});

test('typing and read receipts show on the other side', async () => {
  await alice.page.locator('#messages .receipt', { hasText: 'Seen by bob' }).waitFor();
  await bob.page.fill('#composer-text', 'thinking');
  await bob.page.locator('#composer-text').pressSequentially('…');
  await alice.page.locator('#typing', { hasText: 'bob is typing' }).waitFor();
  await bob.page.fill('#composer-text', '');
});

test('links are clickable and a <script> in a message stays text', async () => {
  const hostile = 'See https://doc.rust-lang.org/book/ and <script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
  await send(alice.page, hostile);
  const shown = message(bob.page, 'doc.rust-lang.org');
  await shown.waitFor();
  const text = await shown.locator('.text').textContent();
  assert.equal(text, hostile);
  assert.equal(await shown.locator('.text script, .text img').count(), 0);
  const link = shown.locator('a');
  assert.equal(await link.count(), 1);
  assert.equal(await link.getAttribute('href'), 'https://doc.rust-lang.org/book/');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
  for (const { page } of [alice, bob]) {
    assert.equal(await page.evaluate(() => window.__xss), undefined);
  }
});

test('editing and deleting show on the other side', async () => {
  const { page } = alice;
  const first = message(page, 'Hello bob!');
  await first.hover();
  await first.getByRole('button', { name: /^Edit/ }).click();
  await page.fill('#messages .edit-text', 'Hello bob! Rust or Zig today?');
  await page.press('#messages .edit-text', 'Enter');
  const edited = message(bob.page, 'Rust or Zig today?');
  await edited.waitFor();
  await edited.locator('.edited').waitFor();
  assert.equal(await message(bob.page, 'Rust or Go today?').count(), 0);

  await send(page, 'oops, wrong chat');
  await message(bob.page, 'oops, wrong chat').waitFor();
  const oops = message(page, 'oops, wrong chat');
  await oops.hover();
  const remove = oops.getByRole('button', { name: /^Delete/ });
  await remove.click();
  await remove.click(); // the second press confirms
  await bob.page.locator('#messages .text.deleted').waitFor();
  await message(bob.page, 'oops, wrong chat').waitFor({ state: 'detached' });
});

test('offline: the message waits as pending and arrives once when the network returns', async () => {
  await bobNetwork.offline();
  await bob.page.locator('#connection[data-state="reconnecting"]').waitFor();
  await send(bob.page, 'written while offline');
  const pending = bob.page.locator('#messages li.pending', { hasText: 'written while offline' });
  await pending.waitFor();
  await bobNetwork.online();
  await pending.waitFor({ state: 'detached', timeout: 30_000 });
  await message(bob.page, 'written while offline').waitFor();
  await send(bob.page, 'and back online');
  await message(alice.page, 'and back online').waitFor();
  assert.equal(await message(alice.page, 'written while offline').count(), 1);
  assert.equal(await message(bob.page, 'written while offline').count(), 1);
});

test('a reload keeps the session and the history', async () => {
  await bob.page.reload();
  const item = bob.page.locator('#chat-list .chat-item', { hasText: 'alice' });
  await item.waitFor();
  await item.locator('.dot.online').waitFor(); // alice is online: the server says so at once
  assert.equal(await bob.page.isVisible('#sign-in'), false);
  await send(alice.page, 'See you at the Rust meetup on Thursday?');
  await item.locator('.badge', { hasText: '1' }).waitFor();
  await shoot(bob.page, 'chat-list-desktop');
  await item.click();
  await message(bob.page, 'Rust meetup').waitFor();
  for (const text of ['Rust or Zig today?', 'Rust, always', 'written while offline', 'and back online']) {
    assert.equal(await message(bob.page, text).count(), 1, text);
  }
  await alice.page.locator('#messages .receipt', { hasText: 'Seen by bob' }).waitFor();
  await shoot(alice.page, 'chat-desktop');
});

test("muting a chat's push notifications: the toggle asks the server, a reload shows it", async () => {
  const { page } = bob;
  const mute = page.locator('#mute');
  assert.equal(await mute.getAttribute('aria-pressed'), 'false');
  await mute.click();
  await page.locator('#mute[aria-pressed="true"]').waitFor();
  // What the server keeps, not what the page remembers: after a reload it comes from pushSettings().
  await page.reload();
  await page.locator('#chat-list .chat-item', { hasText: 'alice' }).click();
  await message(page, 'Rust meetup').waitFor();
  await page.locator('#mute[aria-pressed="true"]').waitFor();
  await mute.click();
  await page.locator('#mute[aria-pressed="false"]').waitFor();
  // Alice's own toggle is hers: bob's mute never showed on it.
  assert.equal(await alice.page.getAttribute('#mute', 'aria-pressed'), 'false');
});

test('on a phone: sign in, the chat list, a chat, log out', async () => {
  // Bob answers; alice's desktop, with the chat open, reads it (bob sees the receipt).
  await send(bob.page, 'Thursday it is.');
  await message(alice.page, 'Thursday it is.').waitFor();
  await bob.page.locator('#messages .receipt', { hasText: 'Seen by alice' }).waitFor();
  // The phone is a new device: what it shows of presence, unread counts and receipts comes
  // from the server, not from this browser's storage.
  const phone = await newPage(PHONE);
  const { page } = phone;
  await page.goto(server.origin + '/');
  await page.fill('#login-username', 'alice');
  await page.fill('#login-password', 'not the password');
  await page.click('#login-form button[type="submit"]');
  await page.locator('#login-password-error', { hasText: 'Wrong username or password' }).waitFor();
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button[type="submit"]');
  const item = page.locator('#chat-list .chat-item', { hasText: 'bob' });
  await item.waitFor();
  await item.locator('.preview', { hasText: 'Thursday it is.' }).waitFor();
  await item.locator('.dot.online').waitFor(); // bob was online before this page opened
  assert.equal(await item.locator('.badge').count(), 0, 'read on the desktop: nothing unread');
  assert.equal(await page.isVisible('#chat'), false, 'one column on a phone');
  await shoot(page, 'chat-list-phone');
  await item.click();
  await message(page, 'Rust meetup').waitFor();
  await page.locator('#messages .receipt', { hasText: 'Seen by bob' }).waitFor();
  assert.equal(await page.isVisible('#chat-list'), false);
  await shoot(page, 'chat-phone');
  await page.click('#back');
  await item.waitFor();
  await page.click('#log-out');
  await page.locator('#login-form').waitFor();
  await page.reload();
  await page.locator('#login-form').waitFor();
  assert.equal(await page.evaluate(() => Object.keys(localStorage).length), 0);
});

test('files: an image shows inline and whole, a text file downloads, an avatar shows', async () => {
  const notes = 'Rust meetup: bring a laptop and a borrow checker.\n';
  await alice.page.setInputFiles('#composer-files', [
    { name: 'diagram.png', mimeType: 'image/png', buffer: Buffer.from(png(48, 32)) },
    { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(notes) },
  ]);
  // Each file uploads at once; the message waits for them.
  await alice.page.locator('#composer-staged .staged-file.done').nth(1).waitFor();
  await send(alice.page, 'The slides and my notes');
  await alice.page.locator('#composer-staged').waitFor({ state: 'hidden' });

  const shown = message(bob.page, 'The slides and my notes');
  await shown.waitFor();
  const image = shown.locator('.attachment-image img');
  await image.waitFor();
  await bob.page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await image.elementHandle());
  assert.match((await image.getAttribute('src')) ?? '', /^blob:/);
  assert.equal(await image.getAttribute('alt'), 'diagram.png');

  const link = shown.locator('a.attachment-file', { hasText: 'notes.txt' });
  assert.equal(await link.getAttribute('download'), 'notes.txt');
  assert.match((await link.textContent()) ?? '', /notes\.txt.*\d+ B/);
  const [download] = await Promise.all([bob.page.waitForEvent('download'), link.click()]);
  assert.equal(download.suggestedFilename(), 'notes.txt');
  assert.equal(readFileSync(await download.path(), 'utf8'), notes);

  // A click opens the image whole.
  await shown.locator('.attachment-image').click();
  await bob.page.locator('#viewer[open]').waitFor();
  await bob.page.waitForFunction(() => document.getElementById('viewer-image')?.naturalWidth === 48);
  await bob.page.keyboard.press('Escape');
  await bob.page.locator('#viewer').waitFor({ state: 'hidden' });

  // Alice picks a picture in her profile: it shows there and beside her name at once.
  await alice.page.click('#open-profile');
  await alice.page.locator('#profile[open]').waitFor();
  await alice.page.setInputFiles('#profile-avatar-file', {
    name: 'me.png',
    mimeType: 'image/png',
    buffer: Buffer.from(png(64, 64, [200, 80, 40])),
  });
  await alice.page.waitForFunction(() => (document.querySelector('#profile-avatar img')?.naturalWidth ?? 0) > 0);
  await alice.page.waitForFunction(() => (document.querySelector('#me-avatar img')?.naturalWidth ?? 0) > 0);
  await alice.page.click('#profile [data-close]');
  // Bob's page asks for the profiles of a chat's people when he opens it.
  await bob.page.locator('#chat-list .chat-item', { hasText: 'alice' }).click();
  const avatarShown = () =>
    [...document.querySelectorAll('#chat-list .chat-item .avatar img, #messages .meta .avatar img')].some((img) => img.naturalWidth > 0);
  await bob.page.waitForFunction(avatarShown);
  await message(bob.page, 'The slides and my notes').locator('.meta .avatar img').waitFor({ state: 'attached' });
  await shoot(bob.page, 'chat-files-desktop');
});

test('no page saw a console error or a CSP violation', async () => {
  for (const { page, problems } of pages) {
    if (!page.isClosed()) assert.deepEqual(await cspViolations(page), []);
    assert.deepEqual(problems, []);
  }
});
