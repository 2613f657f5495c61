// @ts-check
/**
 * Per-chat ordering: every item of a chat (a post or an event) reaches the application exactly
 * once and in sequence order, whether it came live, from a `resume`, or both, across reconnects;
 * and what depends on an item (the `chat_changed` after a membership change, the `edited` after
 * an edit) comes right after it. A port of the Rust SDK's `driver/chats.rs`.
 */

/** @typedef {import('./types.js').Message} Message */
/** @typedef {import('./types.js').Chat} Chat */
/** @typedef {import('./types.js').HelloCodeEvent} HelloCodeEvent */

/**
 * An item waiting for the ones before it, and the events to deliver right after it.
 * @typedef {{item: Message, after: HelloCodeEvent[]}} Held
 */

/**
 * What the client has delivered of one chat, and what it holds back.
 * @typedef {object} Cursor
 * @property {number} delivered every item up to this seq has been delivered
 * @property {Map<number, Held>} waiting items past a gap
 * @property {boolean} resuming a `resume` of this chat is on the wire
 * @property {number} fruitless complete resumes in a row that left a gap
 * @property {boolean} stale known from before the last disconnect, not confirmed since
 */

/** @param {number} delivered @returns {Cursor} */
function cursor(delivered) {
  return { delivered, waiting: new Map(), resuming: false, fruitless: 0, stale: false };
}

/**
 * The application's event for an item: a post is a `message`, anything else a `chat_event`.
 * @param {Message} item
 * @returns {HelloCodeEvent}
 */
export function itemEvent(item) {
  return item.kind ? { kind: 'chat_event', event: item } : { kind: 'message', message: item };
}

/** @param {Held} held @param {HelloCodeEvent[]} out */
function deliver(held, out) {
  out.push(itemEvent(held.item));
  out.push(...held.after);
}

export class Chats {
  /** @param {Record<string, number>} [positions] where chats start instead of their newest item */
  constructor(positions = {}) {
    /** @type {Map<number, Cursor>} */
    this.cursors = new Map();
    for (const [chat, seq] of Object.entries(positions)) {
      if (Number.isSafeInteger(Number(chat)) && Number.isSafeInteger(seq)) {
        this.cursors.set(Number(chat), cursor(seq));
      }
    }
    /** Whether the chat list has been received once (the first sync sets starting points). */
    this.syncedOnce = false;
    /** @type {{item: Message, after: HelloCodeEvent[]}[]} live items of chats not known before the chat list */
    this.held = [];
    /** @type {Set<number>} chats to resume at the next opportunity */
    this.wanted = new Set();
    /** @type {Set<number>} chats the user left, was removed from, or that were deleted */
    this.forgotten = new Set();
  }

  /**
   * An item pushed by the server, and the events that go right after it (dropped with it if it
   * was delivered already). Deliverable events are appended to `out`.
   * @param {Message} item @param {HelloCodeEvent[]} after @param {HelloCodeEvent[]} out
   */
  live(item, after, out) {
    const chat = item.chatId;
    if (this.forgotten.has(chat)) return;
    const known = this.cursors.get(chat);
    if (known) {
      known.stale = false;
    } else if (!this.syncedOnce) {
      this.held.push({ item, after });
      return;
    } else {
      // A chat we were added to without seeing `chat_created`: everything in it is new.
      this.cursors.set(chat, cursor(0));
    }
    this.accept(item, after, out);
    this.wantIfGap(chat);
  }

  /**
   * A page of a `resume` reply.
   * @param {number} chat @param {Message[]} items @param {boolean} more @param {HelloCodeEvent[]} out
   */
  resumed(chat, items, more, out) {
    const state = this.cursors.get(chat);
    if (!state) return;
    state.resuming = false;
    for (const item of items) this.accept(item, [], out);
    if (more && items.length > 0) {
      this.wanted.add(chat);
    } else if (state.waiting.size === 0) {
      state.fruitless = 0;
    } else if (state.fruitless < 3) {
      // The missing items may still be on their way (committed after the resume's query).
      state.fruitless += 1;
      this.wanted.add(chat);
    } else {
      // Cannot happen with gap-free sequence numbers; holding items forever would lose them.
      state.fruitless = 0;
      for (const seq of [...state.waiting.keys()].sort((a, b) => a - b)) {
        const held = /** @type {Held} */ (state.waiting.get(seq));
        state.waiting.delete(seq);
        state.delivered = seq;
        deliver(held, out);
      }
    }
  }

  /**
   * A `resume` failed: try again later (`retry`), or forget the chat (the user is not in it).
   * @param {number} chat @param {boolean} retry
   */
  resumeFailed(chat, retry) {
    const state = this.cursors.get(chat);
    if (retry) {
      if (state) {
        state.resuming = false;
        this.wanted.add(chat);
      }
    } else {
      this.cursors.delete(chat);
      this.wanted.delete(chat);
      this.forgotten.add(chat);
    }
  }

  /**
   * The user is no longer in `chat`: deliver what is held of it (past any gap: the server will
   * not fill it for a former member), then forget it — no cursor, no resume.
   * @param {number} chat @param {HelloCodeEvent[]} out
   */
  forget(chat, out) {
    const state = this.cursors.get(chat);
    if (state) {
      for (const seq of [...state.waiting.keys()].sort((a, b) => a - b)) {
        deliver(/** @type {Held} */ (state.waiting.get(seq)), out);
      }
      this.cursors.delete(chat);
    }
    this.wanted.delete(chat);
    this.forgotten.add(chat);
  }

  /**
   * The user's chat list, fetched after every (re)connection. Returns the chats that appeared
   * while the client was away (none on the first sync). Chats known from before the disconnect
   * and missing now were lost while away: they are forgotten.
   * @param {Chat[]} chats @param {HelloCodeEvent[]} out
   * @returns {Chat[]}
   */
  synced(chats, out) {
    const first = !this.syncedOnce;
    this.syncedOnce = true;
    /** @type {Chat[]} */
    const appeared = [];
    for (const chat of chats) {
      this.forgotten.delete(chat.id);
      let state = this.cursors.get(chat.id);
      if (!state) {
        if (!first) appeared.push(chat);
        // On the first connection a chat starts at its newest item (the past is history,
        // fetched on demand); one that appeared while we were away starts at its beginning.
        state = cursor(first ? chat.lastSeq : 0);
        this.cursors.set(chat.id, state);
      }
      state.stale = false;
      if (chat.lastSeq > state.delivered && !state.resuming) this.wanted.add(chat.id);
    }
    for (const [chat, state] of [...this.cursors]) {
      if (state.stale) this.forget(chat, out);
    }
    const held = this.held;
    this.held = [];
    for (const { item, after } of held) this.live(item, after, out);
    return appeared;
  }

  /** The user was added to a chat. @param {Chat} chat */
  created(chat) {
    this.forgotten.delete(chat.id);
    const state = this.cursors.get(chat.id);
    if (state) {
      state.stale = false;
    } else if (this.syncedOnce) {
      this.cursors.set(chat.id, cursor(0));
      if (chat.lastSeq > 0) this.wanted.add(chat.id);
    }
  }

  /**
   * Up to `limit` chats to resume now, with the seq to resume after; marks them as resuming.
   * @param {number} limit
   * @returns {[number, number][]}
   */
  takeWanted(limit) {
    /** @type {[number, number][]} */
    const resumes = [];
    for (const chat of [...this.wanted].sort((a, b) => a - b)) {
      if (resumes.length >= limit) break;
      this.wanted.delete(chat);
      const state = this.cursors.get(chat);
      if (state && !state.resuming) {
        state.resuming = true;
        resumes.push([chat, state.delivered]);
      }
    }
    return resumes;
  }

  /** The connection is gone: nothing is on the wire, and every chat must be confirmed again. */
  disconnected() {
    for (const state of this.cursors.values()) {
      state.resuming = false;
      state.stale = true;
    }
  }

  /** The last delivered seq of every chat, keyed by chat id. @returns {Record<string, number>} */
  positions() {
    /** @type {Record<string, number>} */
    const positions = {};
    for (const [chat, state] of this.cursors) positions[String(chat)] = state.delivered;
    return positions;
  }

  /** @param {Message} item @param {HelloCodeEvent[]} after @param {HelloCodeEvent[]} out */
  accept(item, after, out) {
    const state = this.cursors.get(item.chatId);
    if (!state || item.seq <= state.delivered) return; // seen already, and what goes after it
    const held = state.waiting.get(item.seq);
    if (!held) {
      state.waiting.set(item.seq, { item, after });
    } else if (held.after.length === 0) {
      // Held already (say from a resume page): a live copy brings what goes after it.
      held.after = after;
    }
    for (;;) {
      const next = state.waiting.get(state.delivered + 1);
      if (!next) break;
      state.waiting.delete(state.delivered + 1);
      state.delivered = next.item.seq;
      deliver(next, out);
    }
  }

  /** @param {number} chat */
  wantIfGap(chat) {
    const state = this.cursors.get(chat);
    if (state && state.waiting.size > 0 && !state.resuming) this.wanted.add(chat);
  }
}
