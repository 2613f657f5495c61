// The web client's values in the transcript scenarios' canonical JSON shape: the same shape as
// bindings/conformance/tests/support/canonical.rs gives the Rust SDK's (see that crate's README),
// so that every runner checks the same thing.

/** @param {any} message */
export function message(message) {
  return {
    id: message.id,
    chat: message.chatId,
    seq: message.seq,
    author: message.author,
    content: message.content,
    deleted: message.deleted === true,
    edited: message.editedAt !== undefined && message.editedAt !== null,
    client_id: message.clientId ?? null,
    item: message.kind ?? 'message',
    target: message.target ?? null,
    member: message.member ?? null,
    role: message.role ?? null,
    attachments: (message.attachments ?? []).map(attachment),
  };
}

/** A file a message carries, or an upload's answer (camelCase, as scenario 27 spells it). @param {any} file */
export function attachment(file) {
  return {
    id: file.id,
    name: file.name,
    contentType: file.contentType,
    size: file.size,
    width: file.width ?? null,
    height: file.height ?? null,
    thumbnail: file.thumbnail ?? null,
  };
}

/**
 * A download: its type, its size, and its bytes as text when they are valid UTF-8 (`null`
 * otherwise, whatever the type says), as the Rust runner does.
 * @param {{contentType: string, data: Uint8Array}} file
 */
export function download(file) {
  /** @type {string | null} */
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(file.data);
  } catch {
    text = null;
  }
  return { contentType: file.contentType, size: file.data.length, text };
}

/** @param {any} chat */
export function chat(chat) {
  /** @type {Record<string, string>} */
  const roles = {};
  for (const participant of chat.participants) {
    if (participant.role) roles[participant.username] = participant.role;
  }
  return {
    id: chat.id,
    kind: chat.kind,
    name: chat.name ?? null,
    topic: chat.topic ?? null,
    participants: chat.participants.map((/** @type {any} */ participant) => participant.username),
    roles,
    last_seq: chat.lastSeq,
  };
}

/** @param {any} user */
export function user(user) {
  return { id: user.id, username: user.username, timezone: user.timezone, languages: user.languages, avatar: user.avatar ?? null };
}

/** @param {any} language */
export function language(language) {
  return { id: language.id, name: language.name };
}

/** @param {any} send */
export function pending(send) {
  return { client_id: send.clientId, chat: send.chat, content: send.text };
}

/** @param {any} token */
export function issuedBotToken(token) {
  return { id: token.id, name: token.name, token: token.token };
}

/** @param {any} token */
export function botToken(token) {
  return { id: token.id, name: token.name, revoked: token.revoked };
}

/** @param {any} invitation */
export function invitation(invitation) {
  return {
    id: invitation.id,
    chat: invitation.chatId,
    chat_kind: invitation.kind,
    name: invitation.name ?? null,
    inviter: invitation.inviter,
    invitee: invitation.invitee,
    state: invitation.state,
  };
}

/** @param {any} link */
export function inviteLink(link) {
  return {
    id: link.id,
    chat: link.chatId,
    created_by: link.createdBy,
    lifetime: Math.trunc((Date.parse(link.expiresAt) - Date.parse(link.createdAt)) / 1000),
    max_uses: link.maxUses ?? null,
    uses: link.uses,
    revoked: link.revoked,
  };
}

/** @param {any} issued */
export function issuedInviteLink(issued) {
  return { link: inviteLink(issued.link), token: issued.token };
}

/** A pusher (without its `createdAt`, which no scenario can know). @param {any} pusher */
export function pusher(pusher) {
  return {
    app_id: pusher.appId,
    pushkey: pusher.pushkey,
    url: pusher.url,
    device_name: pusher.deviceName,
    lang: pusher.lang,
    previews: pusher.previews,
  };
}

/** @param {any} settings */
export function pushSettings(settings) {
  return { pushers: settings.pushers.map(pusher), muted_chats: [...settings.mutedChats] };
}

/** A connection event (or `client.connection`). @param {any} connection */
export function state(connection) {
  switch (connection.state) {
    case 'connected':
      return { state: 'connected', username: connection.username };
    case 'reconnecting':
      return { state: 'reconnecting', attempt: connection.attempt, error: connection.error?.code ?? null };
    case 'closed':
      return { state: 'closed', error: connection.error?.code ?? null };
    default:
      return { state: connection.state };
  }
}

/** @param {any} event */
export function event(event) {
  /** @type {Record<string, any>} */
  let body;
  let kind = event.kind;
  switch (event.kind) {
    case 'message':
    case 'edited':
      body = message(event.message);
      break;
    case 'chat_event':
      body = message(event.event);
      break;
    case 'deleted':
      body = { chat: event.chat, seq: event.seq };
      break;
    case 'typing':
      body = { chat: event.chat, username: event.user };
      break;
    case 'read':
      body = { chat: event.chat, username: event.user, seq: event.seq };
      break;
    case 'presence':
      body = { username: event.user, online: event.online };
      break;
    case 'online':
      body = { usernames: [...event.users] };
      break;
    case 'chat_created':
    case 'chat_changed':
      body = chat(event.chat);
      break;
    case 'chat_deleted':
      body = { chat: event.chat, by: event.by };
      break;
    case 'invitation':
      body = invitation(event.invitation);
      break;
    // The web client reports a queued message's states as three events; the scenarios, as the
    // Rust SDK, as one `send` event with a state.
    case 'pending':
      kind = 'send';
      body = { client_id: event.send.clientId, chat: event.send.chat, state: 'pending' };
      break;
    case 'sent':
      kind = 'send';
      body = { client_id: event.send.clientId, chat: event.send.chat, state: 'sent', message: message(event.message) };
      break;
    case 'send_failed':
      kind = 'send';
      body = { client_id: event.send.clientId, chat: event.send.chat, state: 'failed', error: event.error.code };
      break;
    case 'connection':
      body = state(event);
      break;
    default:
      kind = 'unknown';
      body = {};
  }
  body.kind = kind;
  return body;
}
