// What survives a reload, in localStorage: the signed-in user and token, the client module's own
// state (positions, pending sends) through `moduleStorage`, and the page's read marks.

const PREFIX = 'hellocode:';
const SESSION = PREFIX + 'session';

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: a session that lasts as long as the page
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // full or disabled: the page works on, forgetting more on reload
  }
}

/** The `{get, set, remove}` string store the client module keeps its state in. */
export const moduleStorage = {
  get: (key) => read(PREFIX + 'client:' + key),
  set: (key, value) => write(PREFIX + 'client:' + key, value),
  remove: (key) => {
    try {
      localStorage.removeItem(PREFIX + 'client:' + key);
    } catch {
      // nothing to remove
    }
  },
};

/** `{username, token}` of the last sign-in, or null. */
export function savedSession() {
  try {
    const session = JSON.parse(read(SESSION) ?? 'null');
    return session && typeof session.token === 'string' ? session : null;
  } catch {
    return null;
  }
}

export function saveSession(username, token) {
  write(SESSION, JSON.stringify({ username, token }));
}

/** Forget everything of this browser's session: token, the module's state, read marks. */
export function forgetSession() {
  try {
    for (const key of Object.keys(localStorage)) {
      if (key.startsWith(PREFIX)) localStorage.removeItem(key);
    }
  } catch {
    // nothing stored
  }
}

/** A JSON object kept under one key, per user: `load()` and `save(value)`. */
export function kept(username, name) {
  const key = `${PREFIX}${username}:${name}`;
  return {
    load() {
      try {
        return JSON.parse(read(key) ?? '{}') ?? {};
      } catch {
        return {};
      }
    },
    save(value) {
      write(key, JSON.stringify(value));
    },
  };
}

/** The WebSocket URL of this page's server. */
export function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws`;
}
