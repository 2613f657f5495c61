// The HelloCode web app: signs in, keeps the chats the client module reports, and draws them.
// The client module (hellocode.js) owns the protocol: reconnecting and resuming, the send queue
// with client ids, its state in localStorage. This file owns what the page shows.

import { createChatView } from './chat-view.js';
import { renderChatList } from './chat-list.js';
import { ObjectUrls, avatarNode } from './files.js';
import { setUpPeople } from './people.js';
import { setUpProfile } from './profile.js';
import { connect, describe, setUpSignIn } from './sign-in.js';
import { forgetSession, kept, saveSession, savedSession } from './session.js';

const TYPING_SHOWN_MS = 5000;
const FIRST_PAGE = 20;

const screens = {
  booting: document.getElementById('booting'),
  signIn: document.getElementById('sign-in'),
  workspace: document.getElementById('workspace'),
  account: document.getElementById('account'),
};
const connection = document.getElementById('connection');

/** The signed-in state; `null` while signed out. */
let app = null;

/**
 * The views are wired once, to whoever is signed in: this stands for the current `app` (its
 * methods bound to it), so that signing out and in again adds no second set of listeners.
 */
const current = new Proxy(
  {},
  {
    get(_, key) {
      const value = app?.[key];
      return typeof value === 'function' ? value.bind(app) : value;
    },
  },
);
const view = createChatView(current);
const people = setUpPeople(current);
const profile = setUpProfile(current);

const signIn = setUpSignIn((client, { registered }) => start(client, { registered }));

document.getElementById('log-out').addEventListener('click', () => logOut());
document.getElementById('open-profile').addEventListener('click', () => app && profile.open());
document.getElementById('open-people').addEventListener('click', () => app && people.open());
document.getElementById('back').addEventListener('click', () => app?.closeChat());
for (const button of document.querySelectorAll('dialog [data-close]')) {
  button.addEventListener('click', () => button.closest('dialog').close());
}
document.addEventListener('visibilitychange', () => app?.markCurrentRead());

boot();

/** Resume the saved session, or show the sign-in screen. */
async function boot() {
  const saved = savedSession();
  if (!saved) return showSignIn();
  try {
    await start(await connect({ token: saved.token }), { registered: false });
  } catch (error) {
    if (error?.code === 'invalid_token' || error?.code === 'not_authenticated') forgetSession();
    showSignIn(error?.code === 'invalid_token' ? 'Your session ended; sign in again.' : describe(error));
  }
}

function showSignIn(message = '') {
  screens.booting.hidden = true;
  screens.workspace.hidden = true;
  screens.account.hidden = true;
  screens.signIn.hidden = false;
  connection.textContent = '';
  signIn.show();
  document.getElementById('login-error').textContent = message;
  document.getElementById('login-username').focus();
}

async function logOut() {
  if (!app) return;
  const client = app.client;
  app.stop();
  app = null;
  try {
    await client.close();
  } catch {
    // closing a dead connection
  }
  // After the close: the module saves its state as it closes.
  forgetSession();
  showSignIn();
}

/** Signed in: load the chats, draw them, follow the client's events. */
async function start(client, { registered }) {
  if (client.token) saveSession(client.username, client.token);
  app = new App(client);
  screens.booting.hidden = true;
  screens.signIn.hidden = true;
  screens.workspace.hidden = false;
  screens.account.hidden = false;
  document.getElementById('me').textContent = client.username;
  app.drawMe();
  app.showConnection(client.state);
  await app.loadChats();
  if (registered) profile.open({ welcome: true });
  else document.getElementById('open-people').focus();
}

/** One entry per chat: the chat, the messages loaded, and what the list shows of it. */
function newEntry(chat) {
  return { chat, messages: new Map(), last: null, loaded: false, complete: false, maxSeq: chat.lastSeq ?? 0, typing: new Map() };
}

const chatId = (value) => Number(typeof value === 'object' && value !== null ? value.id : value);

class App {
  constructor(client) {
    this.client = client;
    this.me = client.username;
    this.chats = new Map();
    /** Who is online; once the server's list has come (`online`), everyone else is offline. */
    this.presence = new Map();
    this.presenceKnown = false;
    this.pending = new Map(client.pendingSends().map((send) => [send.clientId, { ...send, chat: chatId(send.chat) }]));
    this.current = null;
    this.reads = kept(this.me, 'read');
    this.myReads = this.reads.load();
    this.receiptStore = kept(this.me, 'receipts');
    this.receipts = this.receiptStore.load();
    this.view = view;
    /** What the server said of each user's avatar: username → {avatar: address | null}. */
    this.profiles = new Map();
    /** The avatars as object URLs, by address (revoked on sign-out or when one is replaced). */
    this.avatars = new ObjectUrls(client);
    this.avatarLoads = new Set();
    this.avatarFailures = new Set();
    /** The files this page uploaded, by id: the names its pending sends show. */
    this.uploaded = new Map();
    /** The chats whose push notifications are muted (for every device of mine). */
    this.muted = new Set();
    this.stopListening = client.addListener((event) => this.handle(event));
  }

  stop() {
    this.stopListening?.();
    this.avatars.clear();
    document.getElementById('me-avatar').replaceChildren();
    this.view.close();
    document.body.classList.remove('chat-open');
    for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
    document.getElementById('chat-list').replaceChildren();
  }

  // ---- what the views ask -------------------------------------------------------------

  title(chat) {
    if (chat.kind === 'group' && chat.name) return chat.name;
    const others = chat.participants.map((p) => p.username).filter((name) => name !== this.me);
    return others.length ? others.join(', ') : 'Only you';
  }

  /** The other member of a direct chat, else null. */
  directPeer(chat) {
    if (chat.kind === 'group') return null;
    return chat.participants.map((p) => p.username).find((name) => name !== this.me) ?? null;
  }

  /** Whether `user` is online: true, false, or undefined while the server has not said. */
  isOnline(user) {
    return this.presence.get(user) ?? (this.presenceKnown ? false : undefined);
  }

  /**
   * Messages of others after my read mark: `{count, more}` (more: history not all loaded). The
   * mark is the newest of the server's (`readPositions`, `read` events) and this browser's; a
   * message of mine counts as a mark too: who answered has read what came before.
   */
  unread(entry) {
    let mark = this.myReads[entry.chat.id] ?? 0;
    for (const message of entry.messages.values()) {
      if (message.author === this.me && message.seq > mark) mark = message.seq;
    }
    let count = 0;
    let oldest = Infinity;
    for (const message of entry.messages.values()) {
      oldest = Math.min(oldest, message.seq);
      if (message.seq > mark && message.author !== this.me && !message.deleted) count += 1;
    }
    return { count, more: count > 0 && !entry.complete && oldest > mark + 1 };
  }

  pendingIn(chat) {
    return [...this.pending.values()].filter((send) => send.chat === chat);
  }

  receiptsOf(chat) {
    return this.receipts[chat] ?? {};
  }

  /**
   * The object URL of a user's avatar if it is here, else null: then the profile, and the
   * picture, are fetched and everything that shows avatars is drawn again when it comes.
   */
  avatarOf(username) {
    const profile = this.profiles.get(username);
    if (!profile) {
      this.profiles.set(username, { avatar: null });
      this.refreshProfile(username);
      return null;
    }
    if (!profile.avatar) return null;
    const url = this.avatars.known(profile.avatar);
    if (!url) this.loadAvatar(profile.avatar);
    return url;
  }

  /** Ask the server for a user's profile again (someone may have a new avatar). */
  async refreshProfile(username) {
    try {
      const user = await this.client.getUser(username);
      this.setAvatar(username, user.avatar ?? null);
    } catch {
      // offline, or no such user: initials
    }
  }

  setAvatar(username, avatar) {
    const old = this.profiles.get(username)?.avatar ?? null;
    this.profiles.set(username, { avatar });
    if (old === avatar) return;
    if (old && ![...this.profiles.values()].some((profile) => profile.avatar === old)) this.avatars.revoke(old);
    if (avatar) this.loadAvatar(avatar);
    else this.redrawAvatars();
  }

  loadAvatar(address) {
    if (this.avatarLoads.has(address) || this.avatarFailures.has(address)) return;
    this.avatarLoads.add(address);
    this.avatars.get(address).then(
      () => {
        this.avatarLoads.delete(address);
        this.redrawAvatars();
      },
      () => {
        this.avatarLoads.delete(address);
        this.avatarFailures.add(address); // not asked again on every drawing
      },
    );
  }

  redrawAvatars() {
    if (app !== this) return; // signed out meanwhile
    this.drawList();
    this.drawMe();
    this.view.sync();
    profile.drawAvatar();
  }

  drawMe() {
    document.getElementById('me-avatar').replaceChildren(avatarNode(this.avatarOf(this.me), this.me, 'small'));
  }

  /** The name of a file this page uploaded (for its pending sends). */
  attachmentName(id) {
    return this.uploaded.get(id)?.name ?? 'file';
  }

  /** Upload a file picked, pasted or dropped to a chat; its attachment. */
  async uploadAttachment(chat, file, progress) {
    const attachment = await this.client.uploadAttachment(chat, file.name || 'pasted-file', file, progress);
    this.uploaded.set(attachment.id, attachment);
    return attachment;
  }

  /** Upload my avatar; it shows wherever I do. */
  async uploadAvatar(file, progress) {
    const avatar = await this.client.uploadAvatar(file.name || 'avatar', file, progress);
    this.setAvatar(this.me, `/api/media/${avatar.id}`);
    return avatar;
  }

  async languages() {
    this.languageNames ??= this.client.languages().then((list) => list.map((l) => (typeof l === 'string' ? l : l.name)));
    try {
      return await this.languageNames;
    } catch (error) {
      this.languageNames = null;
      throw error;
    }
  }

  forgetLanguages() {
    this.languageNames = null;
  }

  profile() {
    return this.client.getUser(this.me);
  }

  async saveProfile(change) {
    await this.client.updateProfile(change);
  }

  // ---- actions ------------------------------------------------------------------------

  async loadChats() {
    this.loadPushSettings();
    const chats = await this.client.listChats();
    const known = new Set(this.chats.keys());
    for (const chat of chats) {
      if (!known.has(chat.id)) this.chats.set(chat.id, newEntry(chat));
      else this.chats.get(chat.id).chat = chat;
    }
    this.drawList();
    // The newest page of each chat, for its last message, and everyone's read positions, for
    // the unread count and receipts (those moved while this page was away are not replayed);
    // a few chats at a time.
    const queue = [...this.chats.values()].filter((entry) => entry.maxSeq > 0);
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        // Both requests at once (one round trip), then one drawing: no unread count flashes.
        const history = entry.loaded ? null : this.loadHistory(entry, FIRST_PAGE).catch(() => {});
        await Promise.all([history, this.loadPositions(entry)]);
        this.drawList();
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }

  /** The page of history older than what `entry` holds (the newest page the first time). */
  async loadHistory(entry, limit) {
    const before = entry.loaded ? Math.min(...entry.messages.keys()) : undefined;
    const options = before === undefined || before === Infinity ? { limit } : { before, limit };
    const page = await this.client.fetchMessages(entry.chat.id, options);
    const messages = Array.isArray(page) ? page : (page?.messages ?? []);
    for (const message of messages) this.store(entry, message);
    entry.loaded = true;
    if (messages.length < limit) entry.complete = true;
    if (entry === this.view.entry) this.markCurrentRead();
  }

  /** Take a chat's stored read positions: mine for its unread count, the others' as receipts. */
  async loadPositions(entry) {
    let positions;
    try {
      positions = await this.client.readPositions(entry.chat.id);
    } catch {
      return; // offline, or the chat is gone: the marks kept here stand
    }
    for (const { username, seq } of positions) this.onRead(entry.chat.id, username, seq);
  }

  async openChat(id) {
    const entry = this.chats.get(id);
    if (!entry) return;
    this.current = id;
    document.body.classList.add('chat-open');
    // Someone may have a new avatar since: ask again, for the people of this chat.
    for (const participant of entry.chat.participants) this.refreshProfile(participant.username);
    this.drawList();
    try {
      const opening = this.view.open(entry); // shows the chat at once, then loads its history
      this.view.focusComposer();
      await opening;
    } catch (error) {
      this.showConnection(this.client.state, `Could not load the history: ${describe(error)}`);
    }
    this.markCurrentRead();
    this.drawList();
  }

  closeChat() {
    const id = this.current;
    this.current = null;
    this.view.close();
    document.body.classList.remove('chat-open');
    this.drawList();
    document.querySelector(`#chat-list [data-chat="${id}"]`)?.focus();
  }

  /** Open the direct chat with one person if there is one, else create the chat. */
  async startChat(usernames) {
    if (usernames.length === 1) {
      const existing = [...this.chats.values()].find((entry) => this.directPeer(entry.chat) === usernames[0] && entry.chat.participants.length === 2);
      if (existing) return this.openChat(existing.chat.id);
    }
    const chat = await this.client.createChat(usernames);
    this.addChat(chat);
    await this.openChat(chat.id);
  }

  send(chat, text, attachments = []) {
    const send = this.client.enqueue(chat, text, attachments.length ? { attachments } : {});
    // The module reports the send as pending too; either way it is shown once.
    this.pending.set(send.clientId, { ...send, chat: chatId(send.chat) });
    this.view.sync();
    this.drawList();
  }

  retry(send) {
    this.pending.delete(send.clientId);
    this.send(send.chat, send.text, send.attachments ?? []);
  }

  discard(send) {
    this.pending.delete(send.clientId);
    this.view.sync();
    this.drawList();
  }

  /** Edit one of my messages; returns an error sentence, or null when done. */
  async editMessage(chat, seq, text) {
    try {
      const message = await this.client.editMessage(chat, seq, text);
      if (message && typeof message === 'object' && 'seq' in message) this.onEdited(message);
      return null;
    } catch (error) {
      return describe(error);
    }
  }

  /** Which chats are muted, as the server says (no harm done when it cannot be asked). */
  async loadPushSettings() {
    try {
      this.muted = new Set((await this.client.pushSettings()).mutedChats);
      this.view.syncHeader();
    } catch {
      // offline: the toggle shows what was last known
    }
  }

  isMuted(chat) {
    return this.muted.has(chat);
  }

  /** Mute or unmute a chat's push notifications (to this user's phones; none go to a browser). */
  async setMuted(chat, muted) {
    try {
      this.muted = new Set((await this.client.muteChat(chat, muted)).mutedChats);
    } catch (error) {
      this.showConnection(this.client.state, `Could not ${muted ? 'mute' : 'unmute'}: ${describe(error)}`);
    }
    this.view.syncHeader();
  }

  async deleteMessage(chat, seq) {
    try {
      await this.client.deleteMessage(chat, seq);
      this.onDeleted(chat, seq);
    } catch (error) {
      this.showConnection(this.client.state, `Could not delete: ${describe(error)}`);
    }
  }

  /** Tell the server I read the open chat, when the page is in view. */
  markCurrentRead() {
    const entry = this.current === null ? null : this.chats.get(this.current);
    if (!entry || document.visibilityState !== 'visible') return;
    const seq = entry.maxSeq;
    if (seq <= (this.myReads[entry.chat.id] ?? 0)) return;
    const id = entry.chat.id;
    const previous = this.myReads[id] ?? 0;
    this.myReads[id] = seq;
    this.reads.save(this.myReads);
    this.drawList();
    Promise.resolve(this.client.markRead(id, seq)).catch(() => {
      // Offline: the mark is sent again when the connection returns.
      if (this.myReads[id] === seq) this.myReads[id] = previous;
    });
  }

  // ---- the client's events ------------------------------------------------------------

  handle(event) {
    switch (event.kind) {
      case 'message':
        return this.onMessage(event.message);
      case 'edited':
        return this.onEdited(event.message);
      case 'deleted':
        return this.onDeleted(chatId(event.chat), event.seq);
      case 'chat_event':
        return this.onChatEvent(event.event);
      case 'chat_changed':
      case 'chat_created':
        return this.addChat(event.chat);
      case 'chat_deleted':
        return this.removeChat(chatId(event.chat));
      case 'typing':
        return this.onTyping(chatId(event.chat), event.user);
      case 'read':
        return this.onRead(chatId(event.chat), event.user, event.seq);
      case 'presence':
        this.presence.set(event.user, event.online);
        this.drawList();
        return this.view.syncHeader();
      case 'online':
        // Sent on each (re)connection: it replaces what was known (changes while away are lost).
        this.presence = new Map(event.users.map((user) => [user, true]));
        this.presenceKnown = true;
        this.drawList();
        return this.view.syncHeader();
      case 'pending':
        this.pending.set(event.send.clientId, { ...event.send, chat: chatId(event.send.chat) });
        return this.redrawChat(chatId(event.send.chat));
      case 'sent':
        this.pending.delete(event.send.clientId);
        return event.message ? this.onMessage(event.message) : this.redrawChat(chatId(event.send.chat));
      case 'send_failed': {
        const send = this.pending.get(event.send.clientId) ?? { ...event.send, chat: chatId(event.send.chat) };
        this.pending.set(send.clientId, { ...send, error: event.error ?? { message: 'refused' } });
        return this.redrawChat(send.chat);
      }
      case 'connection':
        return this.onConnection(event.state);
      default:
        return undefined;
    }
  }

  onMessage(message) {
    const id = chatId(message.chatId);
    const entry = this.chats.get(id);
    if (!entry) {
      // A chat that began while this page did not know it: fetch it, then its history.
      this.fetchChat(id);
      return;
    }
    if (message.clientId) this.pending.delete(message.clientId);
    this.store(entry, message);
    if (entry.typing.delete(message.author)) this.view.syncTyping();
    this.redrawChat(id);
    if (id === this.current) this.markCurrentRead();
  }

  onEdited(message) {
    const entry = this.chats.get(chatId(message.chatId));
    if (!entry) return;
    this.store(entry, message);
    this.redrawChat(entry.chat.id);
  }

  onDeleted(chat, seq) {
    const entry = this.chats.get(chat);
    const message = entry?.messages.get(seq);
    if (!message) return;
    this.store(entry, { ...message, content: '', deleted: true });
    this.redrawChat(chat);
  }

  onChatEvent(event) {
    const id = chatId(event.chatId);
    const entry = this.chats.get(id);
    if (!entry) return;
    entry.maxSeq = Math.max(entry.maxSeq, event.seq ?? 0);
    if ((event.kind === 'leave' || event.kind === 'remove') && event.member === this.me) return this.removeChat(id);
    if (['join', 'leave', 'remove', 'role', 'rename', 'topic'].includes(event.kind)) this.fetchChat(id);
  }

  onTyping(chat, user) {
    const entry = this.chats.get(chat);
    if (!entry || user === this.me) return;
    clearTimeout(entry.typing.get(user));
    entry.typing.set(
      user,
      setTimeout(() => {
        entry.typing.delete(user);
        if (this.view.entry === entry) this.view.syncTyping();
      }, TYPING_SHOWN_MS),
    );
    if (this.view.entry === entry) this.view.syncTyping();
  }

  onRead(chat, user, seq) {
    if (user === this.me) {
      if (seq > (this.myReads[chat] ?? 0)) {
        this.myReads[chat] = seq;
        this.reads.save(this.myReads);
        this.drawList();
      }
      return;
    }
    const positions = (this.receipts[chat] ??= {});
    if (seq <= (positions[user] ?? 0)) return;
    positions[user] = seq;
    this.receiptStore.save(this.receipts);
    this.redrawChat(chat);
  }

  onConnection(state) {
    this.showConnection(state);
    if (this.view.entry) this.view.sync(); // pending sends say whether they wait
    if (state === 'connected') {
      // Chats created while this page was away were not resumed: list them again.
      this.loadChats().catch(() => {});
      this.markCurrentRead();
    }
    if (state === 'closed') {
      this.showConnection(state, 'Signed out: the session ended.');
    }
  }

  showConnection(state, message) {
    const words = {
      connecting: 'Connecting…',
      reconnecting: 'Offline — reconnecting. Messages you send now go out when the connection returns.',
      closed: 'Disconnected.',
    };
    connection.textContent = message ?? words[state] ?? '';
    connection.dataset.state = state;
  }

  // ---- the store ----------------------------------------------------------------------

  store(entry, message) {
    if (message.kind) {
      entry.maxSeq = Math.max(entry.maxSeq, message.seq);
      return; // an event of the chat (version 2), not a post
    }
    entry.messages.set(message.seq, message);
    entry.maxSeq = Math.max(entry.maxSeq, message.seq);
    if (!entry.last || message.seq >= entry.last.seq) entry.last = message;
  }

  addChat(chat) {
    if (!chat || chat.id === undefined) return;
    const entry = this.chats.get(chat.id);
    if (entry) {
      entry.chat = chat;
      entry.maxSeq = Math.max(entry.maxSeq, chat.lastSeq ?? 0);
    } else {
      this.chats.set(chat.id, newEntry(chat));
    }
    this.drawList();
    if (this.current === chat.id) this.view.syncHeader();
  }

  async fetchChat(id) {
    try {
      const chat = await this.client.getChat(id);
      const isNew = !this.chats.has(id);
      this.addChat(chat);
      if (isNew) {
        await this.loadHistory(this.chats.get(id), FIRST_PAGE);
        this.drawList();
      }
    } catch {
      // not a member (any more): nothing to show
    }
  }

  removeChat(id) {
    this.chats.delete(id);
    if (this.current === id) this.closeChat();
    this.drawList();
  }

  redrawChat(id) {
    this.drawList();
    if (this.view.entry?.chat.id === id) this.view.sync();
  }

  drawList() {
    renderChatList(this);
  }
}
