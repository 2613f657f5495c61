// @ts-check
/**
 * The protocol's values as the server writes them (docs/PROTOCOL.md): plain JSON objects.
 * This file holds types only.
 */

/**
 * An item of a chat: a post, or (with `kind`) an event of the chat.
 * @typedef {object} Message
 * @property {number} id storage id, unique across chats
 * @property {number} chatId
 * @property {number} seq its position in the chat (1, 2, 3, ... with no gap)
 * @property {string} author
 * @property {string} content text; empty once deleted
 * @property {string} timestamp RFC 3339, UTC, milliseconds
 * @property {string} [clientId] the sender's idempotency key
 * @property {string} [editedAt]
 * @property {boolean} [deleted]
 * @property {'edit'|'delete'|'join'|'leave'|'remove'|'role'|'rename'|'topic'} [kind] absent for a post
 * @property {number} [target] for `edit` and `delete`: the seq of the post changed
 * @property {string} [member] for membership events: whose membership changed
 * @property {Role} [role] for `join` and `role` events
 * @property {Attachment[]} [attachments] the files a post carries (absent: none)
 */

/**
 * A file a message carries, as the server describes it: download it with `download(id)`, an
 * image's thumbnail with `downloadThumbnail(id)`.
 * @typedef {object} Attachment
 * @property {string} id the content's address (64 hex digits); `/api/media/<id>` serves it
 * @property {string} name the file name to offer
 * @property {string} contentType the type the server detected from the content
 * @property {number} size bytes
 * @property {number} [width] an image's, in pixels
 * @property {number} [height]
 * @property {string} [thumbnail] an image's thumbnail's own address (served at `/api/media/<id>/thumbnail`)
 */

/**
 * An upload as the server recorded it (`POST .../media/`, `POST .../avatar/`).
 * @typedef {object} Media
 * @property {string} id
 * @property {'avatar'|'attachment'} kind
 * @property {string} owner
 * @property {number} [chatId] an attachment's chat
 * @property {string} name
 * @property {string} contentType
 * @property {number} size
 * @property {number} [width]
 * @property {number} [height]
 * @property {string} [thumbnail]
 * @property {string} createdAt
 */

/**
 * A downloaded file: its type (from the server) and its bytes.
 * @typedef {object} Download
 * @property {string} contentType
 * @property {Uint8Array} data
 */

/** @typedef {'owner'|'admin'|'member'} Role */

/**
 * @typedef {object} Participant
 * @property {string} username
 * @property {Role} [role] absent in a direct chat
 */

/**
 * @typedef {object} Chat
 * @property {number} id
 * @property {'direct'|'group'} kind
 * @property {string} [name]
 * @property {string} [topic]
 * @property {Participant[]} participants
 * @property {number} lastSeq the seq of the newest item, 0 when empty
 * @property {string} createdAt
 */

/**
 * @typedef {object} User
 * @property {number} id
 * @property {string} username
 * @property {string} timezone
 * @property {string[]} languages
 * @property {string | null} avatar
 */

/**
 * How far a member of a chat has read.
 * @typedef {object} ReadPosition
 * @property {string} username
 * @property {number} seq the newest sequence number read (0: nothing yet)
 */

/**
 * @typedef {object} Language
 * @property {number} id
 * @property {string} name
 */

/**
 * @typedef {object} Invitation
 * @property {number} id
 * @property {number} chatId
 * @property {'direct'|'group'} kind
 * @property {string} [name]
 * @property {string} inviter
 * @property {string} invitee
 * @property {'pending'|'accepted'|'declined'|'cancelled'} state
 * @property {string} createdAt
 */

/**
 * @typedef {object} InviteLink
 * @property {number} id
 * @property {number} chatId
 * @property {string} createdBy
 * @property {string} createdAt
 * @property {string} expiresAt
 * @property {number | null} [maxUses]
 * @property {number} uses
 * @property {boolean} revoked
 */

/**
 * A bot token as listed (never the secret).
 * @typedef {object} BotToken
 * @property {number} id
 * @property {string} username
 * @property {string} name
 * @property {string} createdAt
 * @property {boolean} revoked
 */

/**
 * A bot token just created: the secret is here only.
 * @typedef {object} IssuedBotToken
 * @property {number} id
 * @property {string} name
 * @property {string} token
 */

/**
 * @typedef {object} IssuedInviteLink
 * @property {InviteLink} link
 * @property {string} token the secret to join with (`joinByLink`); here only
 */

/**
 * A device's registration for push notifications (Matrix's push gateway shape): the server
 * sends each post that arrives while none of the user's connections is open to `url`, for
 * the device `pushkey` of the app `appId`.
 * @typedef {object} Pusher
 * @property {string} appId the app, reverse-DNS style (`org.example.chat.android`)
 * @property {string} pushkey the device's token at FCM or APNs, as the gateway expects it
 * @property {string} url the gateway's notify URL (`https://.../_matrix/push/v1/notify`)
 * @property {string} deviceName a name the user recognises the device by (`''`: none)
 * @property {string} lang the device's language tag (`''`: none)
 * @property {boolean} previews whether notifications carry the message's text
 * @property {string} createdAt when it was registered or last changed
 */

/**
 * A pusher to register (or change: the same `appId` and `pushkey`). Fields left out take their
 * defaults: no device name, no language, previews on.
 * @typedef {object} NewPusher
 * @property {string} appId
 * @property {string} pushkey
 * @property {string} url
 * @property {string} [deviceName]
 * @property {string} [lang]
 * @property {boolean} [previews] default `true`
 */

/**
 * A user's push settings as they now are.
 * @typedef {object} PushSettings
 * @property {Pusher[]} pushers
 * @property {number[]} mutedChats ids of the chats whose posts notify no device of this user
 */

/**
 * A message in the send queue.
 * @typedef {object} PendingSend
 * @property {string} clientId the idempotency key every attempt carries
 * @property {number} chat
 * @property {string} text
 * @property {string[]} [attachments] ids of files uploaded to the chat, carried by the message
 */

/**
 * @typedef {'connecting'|'connected'|'reconnecting'|'closed'} ConnectionState
 */

/**
 * What the client reports, in order. A chat's items (`message`, `chat_event`) arrive exactly
 * once and in sequence order, live or resumed after a reconnect.
 * @typedef {{kind: 'message', message: Message}
 *   | {kind: 'chat_event', event: Message}
 *   | {kind: 'edited', message: Message}
 *   | {kind: 'deleted', chat: number, seq: number}
 *   | {kind: 'chat_created', chat: Chat}
 *   | {kind: 'chat_changed', chat: Chat}
 *   | {kind: 'chat_deleted', chat: number, by: string}
 *   | {kind: 'typing', chat: number, user: string}
 *   | {kind: 'read', chat: number, user: string, seq: number}
 *   | {kind: 'presence', user: string, online: boolean}
 *   | {kind: 'online', users: string[]}
 *   | {kind: 'invitation', invitation: Invitation}
 *   | {kind: 'pending', send: PendingSend}
 *   | {kind: 'sent', send: PendingSend, message: Message}
 *   | {kind: 'send_failed', send: PendingSend, error: import('./errors.js').HelloCodeError}
 *   | ConnectionEvent} HelloCodeEvent
 */

/**
 * The connection changed state. `reconnecting` says which attempt comes next, after how long,
 * and why the connection was lost; `closed` carries the error unless the application closed.
 * @typedef {object} ConnectionEvent
 * @property {'connection'} kind
 * @property {ConnectionState} state
 * @property {string} [username] when connected
 * @property {number} [attempt] when reconnecting (1 for the first retry)
 * @property {number} [delayMs] when reconnecting
 * @property {import('./errors.js').HelloCodeError | null} [error] when reconnecting or closed
 */

export {};
