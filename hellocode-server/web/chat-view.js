// The open chat: its messages (kept in step with the store by key, so that new ones are
// announced once and an edit in progress is not redrawn away), scroll-back, the composer,
// typing indicators, read receipts, editing and deleting one's own messages, and files: images
// inline, other files as download links, and uploads from the composer (pick, paste or drop).

import { clockTime, el, replaceChildren, richText } from './dom.js';
import { ObjectUrls, StagedFiles, attachmentsNode, avatarNode } from './files.js';

const PAGE = 30;
const GROUP_GAP_MS = 5 * 60 * 1000;
const TYPING_EVERY_MS = 3000;

export function createChatView(app) {
  const pane = document.getElementById('chat-pane');
  const empty = document.getElementById('no-chat');
  const title = document.getElementById('chat-title');
  const subtitle = document.getElementById('chat-subtitle');
  const scroller = document.getElementById('scroller');
  const list = document.getElementById('messages');
  const older = document.getElementById('load-older');
  const typing = document.getElementById('typing');
  const composer = document.getElementById('composer');
  const input = document.getElementById('composer-text');
  const picker = document.getElementById('composer-files');
  const viewer = document.getElementById('viewer');
  const viewerImage = document.getElementById('viewer-image');
  const viewerCaption = document.getElementById('viewer-caption');
  const viewerSave = document.getElementById('viewer-save');
  const mute = document.getElementById('mute');

  /** The open chat's entry, the nodes drawn for it by key, and the message being edited. */
  let entry = null;
  let nodes = new Map();
  let editing = null;
  let lastTypingSent = 0;
  let loadingOlder = false;
  /** The open chat's files as object URLs (revoked when it closes). */
  let files = null;
  /** Files picked, pasted or dropped for the next message, uploading to the open chat. */
  const staged = new StagedFiles(document.getElementById('composer-staged'), (file, progress) =>
    app.uploadAttachment(entry.chat.id, file, progress),
  );

  mute.addEventListener('click', async () => {
    if (!entry) return;
    mute.disabled = true;
    await app.setMuted(entry.chat.id, !app.isMuted(entry.chat.id));
    mute.disabled = false;
  });
  document.getElementById('attach').addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => {
    if (entry && picker.files?.length) staged.add([...picker.files]);
    picker.value = '';
    input.focus();
  });
  input.addEventListener('paste', (event) => {
    const pasted = [...(event.clipboardData?.files ?? [])];
    if (!entry || pasted.length === 0) return;
    event.preventDefault();
    staged.add(pasted);
  });
  composer.addEventListener('dragover', (event) => {
    if (!entry || !event.dataTransfer?.types.includes('Files')) return;
    event.preventDefault();
    composer.classList.add('dropping');
  });
  composer.addEventListener('dragleave', () => composer.classList.remove('dropping'));
  composer.addEventListener('drop', (event) => {
    composer.classList.remove('dropping');
    const dropped = [...(event.dataTransfer?.files ?? [])];
    if (!entry || dropped.length === 0) return;
    event.preventDefault();
    staged.add(dropped);
  });
  viewer.addEventListener('close', () => {
    viewerImage.removeAttribute('src');
    viewerSave.removeAttribute('href');
  });
  viewer.addEventListener('click', (event) => {
    if (event.target === viewer) viewer.close(); // a click beside the image
  });

  composer.addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  input.addEventListener('input', () => {
    grow();
    const now = Date.now();
    if (entry && input.value && now - lastTypingSent > TYPING_EVERY_MS) {
      lastTypingSent = now;
      app.client.typing(entry.chat.id)?.catch?.(() => {});
    }
  });
  older.addEventListener('click', () => loadOlder());
  scroller.addEventListener('scroll', () => {
    if (scroller.scrollTop < 40 && entry && !entry.complete) loadOlder();
  });

  async function send() {
    const text = input.value.trim();
    if (!entry || (!text && staged.size === 0)) return;
    const chat = entry.chat.id;
    let attachments = [];
    if (staged.size > 0) {
      try {
        attachments = await staged.attachments(); // the uploads still going are waited for
      } catch {
        return; // a file failed: it says so; remove it (or the others stay) and send again
      }
      if (entry?.chat.id !== chat) return;
      staged.clear();
    }
    app.send(chat, text, attachments.map((attachment) => attachment.id));
    input.value = '';
    grow();
    lastTypingSent = 0;
    stickToBottom();
  }

  /** Show an image whole, in the viewer. */
  async function openImage(attachment) {
    const address = `/api/media/${attachment.id}`;
    viewerCaption.textContent = attachment.name;
    viewerImage.alt = attachment.name;
    viewerSave.setAttribute('download', attachment.name);
    viewer.showModal();
    try {
      const url = await files.get(address);
      if (viewer.open && viewerImage.alt === attachment.name) {
        viewerImage.src = url;
        viewerSave.href = url;
      }
    } catch {
      viewerCaption.textContent = `${attachment.name}: could not load the image`;
    }
  }

  function grow() {
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
  }

  async function loadOlder() {
    if (!entry || entry.complete || loadingOlder) return;
    loadingOlder = true;
    older.disabled = true;
    const target = entry;
    const fromBottom = scroller.scrollHeight - scroller.scrollTop;
    try {
      await app.loadHistory(target, PAGE);
      if (target === entry) {
        sync();
        // Keep the messages that were in view where they were.
        scroller.scrollTop = scroller.scrollHeight - fromBottom;
      }
    } catch {
      // offline: the button stays, to try again
    } finally {
      loadingOlder = false;
      older.disabled = false;
    }
  }

  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  }

  function stickToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  /** Draw the open chat's messages, pending sends last; only what changed is touched. */
  function sync() {
    if (!entry) return;
    const follow = atBottom();
    older.hidden = entry.complete;
    const items = [...entry.messages.values()].sort((a, b) => a.seq - b.seq);
    const keys = new Set();
    let previous = null;
    let cursor = list.firstChild;
    const place = (node) => {
      if (node !== cursor) list.insertBefore(node, cursor);
      else cursor = cursor.nextSibling;
    };
    /** The node under `key`, made anew by `make` when there is none or `current` says it is stale. */
    const nodeFor = (key, current, make) => {
      keys.add(key);
      let found = nodes.get(key);
      if (!found || !current(found)) {
        const fresh = make();
        if (found) found.replaceWith(fresh);
        if (found === cursor) cursor = fresh;
        found = fresh;
        nodes.set(key, found);
      }
      return found;
    };
    for (const message of items) {
      const avatar = app.avatarOf(message.author) ?? '';
      const version = `${message.content}|${message.editedAt ?? ''}|${message.deleted ? 1 : 0}|${message.attachments?.length ?? 0}|${avatar}`;
      const shown = nodeFor(
        `m${message.seq}`,
        (found) => found.dataset.version === version || editing === message.seq,
        () => {
          const fresh = messageNode(message);
          fresh.dataset.version = version;
          return fresh;
        },
      );
      shown.classList.toggle('continued', continues(previous, message));
      place(shown);
      previous = message;
    }
    for (const send of app.pendingIn(entry.chat.id)) {
      const state = send.error ? `failed:${send.error.message ?? ''}` : app.client.state;
      const shown = nodeFor(
        `p${send.clientId}`,
        (found) => found.dataset.state === state,
        () => {
          const fresh = pendingNode(send);
          fresh.dataset.state = state;
          return fresh;
        },
      );
      place(shown);
    }
    for (const [key, node] of nodes) {
      if (!keys.has(key)) {
        node.remove();
        nodes.delete(key);
      }
    }
    syncReceipts();
    if (follow) stickToBottom();
  }

  /** "Seen by bob" under the last of my messages each other member has read. */
  function syncReceipts() {
    const seenBy = new Map();
    const mine = [...entry.messages.values()]
      .filter((m) => m.author === app.me && !m.deleted)
      .sort((a, b) => a.seq - b.seq);
    for (const [user, seq] of Object.entries(app.receiptsOf(entry.chat.id))) {
      if (user === app.me) continue;
      const last = mine.filter((m) => m.seq <= seq).at(-1);
      if (last) seenBy.set(last.seq, [...(seenBy.get(last.seq) ?? []), user]);
    }
    for (const message of mine) {
      const node = nodes.get(`m${message.seq}`);
      const receipt = node?.querySelector('.receipt');
      if (!receipt) continue;
      const users = seenBy.get(message.seq);
      receipt.textContent = users ? `Seen by ${users.sort().join(', ')}` : '';
    }
  }

  function continues(previous, message) {
    return (
      previous !== null &&
      previous.author === message.author &&
      Date.parse(message.timestamp) - Date.parse(previous.timestamp) < GROUP_GAP_MS
    );
  }

  function messageNode(message) {
    const mine = message.author === app.me;
    const time = el('time', { datetime: message.timestamp }, clockTime(message.timestamp));
    const body = message.deleted
      ? el('p', { class: 'text deleted' }, 'Message deleted')
      : [
          message.content ? el('div', { class: 'text' }, richText(message.content)) : null,
          attachmentsNode(message.attachments, files, openImage),
        ];
    return el(
      'li',
      // One's own messages take the focus (a tap, or Tab), which shows their Edit and Delete.
      { class: mine ? 'message mine' : 'message', 'data-seq': message.seq, tabindex: mine && !message.deleted ? 0 : undefined },
      el(
        'p',
        { class: 'meta' },
        avatarNode(app.avatarOf(message.author), message.author, 'small'),
        el('span', { class: 'author' }, mine ? 'You' : message.author),
        ' ',
        time,
        message.editedAt && !message.deleted ? el('span', { class: 'edited' }, ' · edited') : null,
      ),
      el('div', { class: 'bubble' }, body),
      mine && !message.deleted ? actions(message) : null,
      mine ? el('p', { class: 'receipt' }) : null,
    );
  }

  function actions(message) {
    const remove = el('button', { type: 'button', class: 'ghost small', 'aria-label': `Delete your message sent at ${clockTime(message.timestamp)}` }, 'Delete');
    let armed = null;
    // A second press within four seconds deletes: no blocking confirm() dialog.
    remove.addEventListener('click', async () => {
      if (!armed) {
        remove.textContent = 'Really delete?';
        remove.classList.add('danger');
        armed = setTimeout(() => {
          armed = null;
          remove.textContent = 'Delete';
          remove.classList.remove('danger');
        }, 4000);
        return;
      }
      clearTimeout(armed);
      remove.disabled = true;
      await app.deleteMessage(entry.chat.id, message.seq);
      remove.disabled = false;
    });
    return el(
      'div',
      { class: 'actions' },
      el(
        'button',
        { type: 'button', class: 'ghost small', 'aria-label': `Edit your message sent at ${clockTime(message.timestamp)}`, onclick: () => edit(message) },
        'Edit',
      ),
      remove,
    );
  }

  /** Replace a message's text with an editor; Enter saves, Escape cancels. */
  function edit(message) {
    const node = nodes.get(`m${message.seq}`);
    if (!node) return;
    editing = message.seq;
    const field = el('textarea', { class: 'edit-text', rows: 2, maxlength: 8192, 'aria-label': 'Edit message' });
    field.value = message.content;
    const error = el('p', { class: 'field-error', role: 'alert' });
    const done = () => {
      editing = null;
      node.dataset.version = '';
      sync();
      const edit = nodes.get(`m${message.seq}`)?.querySelector('[aria-label^="Edit"]');
      (edit ?? input).focus();
    };
    const save = async () => {
      const text = field.value.trim();
      if (!text || text === message.content) return done();
      const failure = await app.editMessage(entry.chat.id, message.seq, text);
      if (failure) error.textContent = failure;
      else done();
    };
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        done();
      } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        save();
      }
    });
    const form = el(
      'form',
      { class: 'edit-form', onsubmit: (event) => (event.preventDefault(), save()) },
      field,
      error,
      el(
        'div',
        { class: 'actions' },
        el('button', { type: 'submit', class: 'primary small' }, 'Save'),
        el('button', { type: 'button', class: 'ghost small', onclick: done }, 'Cancel'),
      ),
    );
    replaceChildren(node.querySelector('.bubble'), form);
    node.querySelector(':scope > .actions')?.remove();
    field.focus();
    field.setSelectionRange(field.value.length, field.value.length);
  }

  function pendingNode(send) {
    const status = send.error
      ? el(
          'span',
          { class: 'send-error' },
          `Not sent: ${send.error.message ?? send.error.code ?? 'refused'} `,
          el('button', { type: 'button', class: 'ghost small', onclick: () => app.retry(send) }, 'Retry'),
          el('button', { type: 'button', class: 'ghost small', onclick: () => app.discard(send) }, 'Discard'),
        )
      : app.client.state === 'connected'
        ? 'Sending…'
        : 'Waiting for the connection…';
    return el(
      'li',
      { class: 'message mine pending', 'data-client-id': send.clientId },
      el('p', { class: 'meta' }, el('span', { class: 'author' }, 'You'), ' ', el('span', { class: 'status' }, status)),
      el(
        'div',
        { class: 'bubble' },
        send.text ? el('div', { class: 'text' }, richText(send.text)) : null,
        send.attachments?.length
          ? el('ul', { class: 'attachments pending-files' }, send.attachments.map((id) => el('li', { class: 'file-name' }, app.attachmentName(id))))
          : null,
      ),
    );
  }

  function syncHeader() {
    if (!entry) return;
    title.textContent = app.title(entry.chat);
    mute.setAttribute('aria-pressed', String(app.isMuted(entry.chat.id)));
    const peer = app.directPeer(entry.chat);
    if (peer) {
      const online = app.isOnline(peer);
      subtitle.textContent = online === true ? 'online' : online === false ? 'offline' : 'direct chat';
    } else {
      const names = entry.chat.participants.map((p) => p.username);
      subtitle.textContent = `${names.length} members: ${names.join(', ')}`;
    }
  }

  function syncTyping() {
    if (!entry) return;
    const names = [...entry.typing.keys()].filter((name) => name !== app.me).sort();
    typing.textContent =
      names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`;
  }

  return {
    get entry() {
      return entry;
    },

    /** Show `next` (an entry of the store), its newest page first. */
    async open(next) {
      if (entry !== next) {
        entry = next;
        nodes = new Map();
        editing = null;
        list.replaceChildren();
        files?.clear();
        files = new ObjectUrls(app.client);
        staged.clear();
        input.value = '';
        grow();
      }
      pane.hidden = false;
      empty.hidden = true;
      syncHeader();
      syncTyping();
      sync();
      stickToBottom();
      if (!entry.loaded) {
        await app.loadHistory(entry, PAGE);
        if (entry === next) {
          sync();
          stickToBottom();
        }
      }
    },

    close() {
      entry = null;
      nodes = new Map();
      list.replaceChildren();
      files?.clear();
      files = null;
      staged.clear();
      if (viewer.open) viewer.close();
      pane.hidden = true;
      empty.hidden = false;
    },

    focusComposer() {
      input.focus();
    },

    sync,
    syncHeader,
    syncTyping,
  };
}
