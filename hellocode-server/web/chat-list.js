// The chat list: one button per chat with its title, last message, time, unread count and, for
// a direct chat, whether the other person is online. Redrawn whole: it is short.

import { el, replaceChildren, shortTime } from './dom.js';
import { avatarNode } from './files.js';

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
    ? `You: ${summary({ content: pending.text, attachments: pending.attachments?.map((id) => ({ name: app.attachmentName(id) })) })}`
    : last
      ? `${last.author === app.me ? 'You' : last.author}: ${last.deleted ? 'message deleted' : summary(last)}`
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
      avatar(app, entry, peer, online),
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

/** The chat's picture: a direct chat's peer's avatar (and whether they are online), else initials. */
function avatar(app, entry, peer, online) {
  const node = avatarNode(peer ? app.avatarOf(peer) : null, app.title(entry.chat));
  if (peer) node.append(el('span', { class: online ? 'dot online' : 'dot' }));
  return node;
}

/** A message in a line: its text, or the names of its files. */
function summary(message) {
  const files = (message.attachments ?? []).map((file) => file.name);
  if (!files.length) return message.content;
  return message.content ? `${message.content} · ${files.join(', ')}` : files.join(', ');
}
