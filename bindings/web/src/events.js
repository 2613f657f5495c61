// @ts-check
/**
 * Delivery of events to the application: listeners (callbacks) and streams (`for await`). Every
 * subscriber gets every event. Until the first subscriber arrives, events are kept (up to a
 * bound), so that nothing between connecting and subscribing is lost.
 */

/** @typedef {import('./types.js').HelloCodeEvent} HelloCodeEvent */

/**
 * @typedef {object} Subscriber
 * @property {(event: HelloCodeEvent) => void} push
 * @property {() => void} end
 */

export class EventHub {
  /** @param {number} backlogCap */
  constructor(backlogCap) {
    /** @type {Set<Subscriber>} */
    this.subscribers = new Set();
    /** @type {HelloCodeEvent[] | null} */
    this.backlog = [];
    this.cap = backlogCap;
    this.ended = false;
  }

  /** @param {Subscriber} subscriber */
  subscribe(subscriber) {
    if (this.backlog) {
      const backlog = this.backlog;
      this.backlog = null;
      for (const event of backlog) subscriber.push(event);
    }
    if (this.ended) {
      subscriber.end();
      return () => {};
    }
    this.subscribers.add(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  /** @param {HelloCodeEvent} event */
  emit(event) {
    if (this.subscribers.size === 0) {
      if (this.backlog) {
        if (this.backlog.length < this.cap) this.backlog.push(event);
        else this.backlog = null; // nobody listens: stop keeping them
      }
      return;
    }
    for (const subscriber of [...this.subscribers]) subscriber.push(event);
  }

  /** The client stopped: streams end (after the events they hold). */
  end() {
    this.ended = true;
    for (const subscriber of this.subscribers) subscriber.end();
    this.subscribers.clear();
  }

  /**
   * A listener: called with each event, in order. An exception it throws is reported on the
   * console and does not stop the others.
   * @param {(event: HelloCodeEvent) => void} listener
   */
  listen(listener) {
    return this.subscribe({
      push: (event) => {
        try {
          listener(event);
        } catch (error) {
          console.error('hellocode: an event listener threw', error);
        }
      },
      end: () => {},
    });
  }

  /**
   * A stream of the events from now on; it ends after the client closes.
   * @returns {AsyncIterableIterator<HelloCodeEvent>}
   */
  stream() {
    /** @type {HelloCodeEvent[]} */
    const queue = [];
    /** @type {((result: IteratorResult<HelloCodeEvent>) => void) | null} */
    let wake = null;
    let done = false;
    const unsubscribe = this.subscribe({
      push: (event) => {
        if (wake) {
          const resolve = wake;
          wake = null;
          resolve({ value: event, done: false });
        } else {
          queue.push(event);
        }
      },
      end: () => {
        done = true;
        if (wake) {
          const resolve = wake;
          wake = null;
          resolve({ value: undefined, done: true });
        }
      },
    });
    /** @type {AsyncIterableIterator<HelloCodeEvent>} */
    const iterator = {
      next() {
        const event = queue.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          wake = resolve;
        });
      },
      return() {
        done = true;
        queue.length = 0;
        unsubscribe();
        if (wake) {
          const resolve = wake;
          wake = null;
          resolve({ value: undefined, done: true });
        }
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
