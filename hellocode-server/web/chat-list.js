// The chat list: one button per chat with its title, last message, time, unread count and, for
// a direct chat, whether the other person is online. Redrawn whole: it is short.

import { el, replaceChildren, shortTime } from './dom.js';

/** Draw the chats of `app`, most recent activity first. */
export function renderChatList(app) {
  const list = document.getElementById('chat-list');
  const entries = [...app.chats.values()].sort((a, b) => activity(b) - activity(a));
  document.getElementById('no-chats').hidden = entries.length > 0;
  const focused = document.activeElement?.closest?.('#chat-list [data-chat]')?.dataset.chat;
  replaceChildren(list, entries.map((entry) => item(app, entry)));
  // Redrawing must not take the keyboard's place away.
  if (focused) list.querySelector(`[data-chat="${CSS.escape(focused)}"]`)?.focus();
}

function item(app, entry) {
  const id = entry.chat.id;
  const unread = app.unread(entry);
  const peer = app.directPeer(entry.chat);
  const online = peer ? app.isOnline(peer) : undefined;
  const pending = app.pendingIn(id).at(-1);
  const last = entry.last;
  const preview = pending
    ? `You: ${pending.text}`
    : last
      ? `${last.author === app.me ? 'You' : last.author}: ${last.deleted ? 'message deleted' : last.content}`
      : 'No messages yet';
  const labels = [app.title(entry.chat)];
  if (online) labels.push('online');
  if (unread.count) labels.push(`${unread.count}${unread.more ? ' or more' : ''} unread`);
  return el(
    'li',
    {},
    el(
      'button',
      {
        type: 'button',
        class: 'chat-item',
        'data-chat': id,
        'aria-current': app.current === id ? 'true' : undefined,
        'aria-label': labels.join(', '),
        'aria-describedby': `preview-${id}`,
        onclick: () => app.openChat(id),
      },
      el(
        'span',
        { class: 'avatar', 'aria-hidden': 'true' },
        initials(app.title(entry.chat)),
        peer ? el('span', { class: online ? 'dot online' : 'dot' }) : null,
      ),
      el(
        'span',
        { class: 'chat-item-text' },
        el(
          'span',
          { class: 'chat-item-top' },
          el('span', { class: 'chat-item-title' }, app.title(entry.chat)),
          el('time', { class: 'chat-item-time', datetime: last?.timestamp }, last ? shortTime(last.timestamp) : ''),
        ),
        el(
          'span',
          { class: 'chat-item-bottom' },
          el('span', { class: pending ? 'preview pending' : 'preview', id: `preview-${id}` }, preview),
          unread.count
            ? el('span', { class: 'badge', 'aria-hidden': 'true' }, `${unread.count}${unread.more ? '+' : ''}`)
            : null,
        ),
      ),
    ),
  );
}

/** When the chat last changed: its newest message, else its creation. */
function activity(entry) {
  return Date.parse(entry.last?.timestamp ?? entry.chat.createdAt ?? 0) || 0;
}

/** Up to two letters for an avatar: "alice" → "AL", "Crab club" → "CC". */
export function initials(title) {
  const words = title.split(/[\s,]+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[1][0] : (words[0] ?? '?').slice(0, 2);
  return letters.toUpperCase();
}
