// @ts-check
/**
 * Media over HTTP (docs/REST.md, "Media: avatars and attachments"): uploads of avatars and chat
 * attachments, downloads of what the user may read. The server is the one of the WebSocket
 * (`ws:` → `http:`, `wss:` → `https:`, same host and port) and the token the client's own.
 *
 * Uploads go through `XMLHttpRequest` where there is one (browsers: it reports the upload's
 * progress) and `fetch` elsewhere (Node, where progress is reported once, at the end).
 * Downloads read the body as a stream and report every chunk.
 */

import { HelloCodeError } from './errors.js';

/** @typedef {import('./types.js').Attachment} Attachment */
/** @typedef {import('./types.js').Media} Media */
/** @typedef {import('./types.js').Download} Download */

/**
 * Told how far a transfer is: `done` bytes of `total` (null while a download's size is not
 * known). The last call has `done === total`.
 * @typedef {(done: number, total: number | null) => void} Progress
 */

/** What an upload accepts: a `Blob` (a `File` of an input, a paste, a drop), bytes, or text (as UTF-8). */
/** @typedef {Blob | ArrayBuffer | ArrayBufferView | string} UploadData */

/** The server's largest file name, in characters. */
export const MAX_FILE_NAME_CHARS = 255;
/** The protocol's most attachments on one message. */
export const MAX_ATTACHMENTS = 10;
/** A transfer that moves slower than this (bytes per second) is given up as stalled. */
const SLOWEST_BYTES_PER_SECOND = 16 * 1024;

const CONTENT_ID = /^[0-9a-f]{64}$/;
const ADDRESS = /^\/api\/media\/([0-9a-f]{64})(\/thumbnail)?$/;

/**
 * The HTTP base of the server a WebSocket URL names: `ws://host:port/ws` → `http://host:port`
 * (a path before the final `/ws`, as behind a reverse proxy, is kept).
 * @param {string} socketUrl
 */
export function httpBase(socketUrl) {
  const url = new URL(socketUrl);
  const scheme = url.protocol === 'wss:' ? 'https:' : 'http:';
  const path = url.pathname.replace(/\/ws(\/chat\/[^/]*)?\/?$/, '').replace(/\/$/, '');
  return `${scheme}//${url.host}${path}`;
}

/**
 * The content id of a media (its id, or its address `/api/media/<id>`, with or without
 * `/thumbnail`, or such an address on this server), and whether the address names the
 * thumbnail. Anything else — another host, a path that is not a media's — is refused here.
 * @param {unknown} media @param {string} base the server's HTTP base
 * @returns {{id: string, thumbnail: boolean}}
 */
export function mediaTarget(media, base) {
  if (typeof media === 'string') {
    if (CONTENT_ID.test(media)) return { id: media, thumbnail: false };
    let path = media;
    if (/^https?:\/\//i.test(media)) {
      const baseUrl = new URL(base);
      let url;
      try {
        url = new URL(media);
      } catch {
        url = null;
      }
      path = url && url.origin === baseUrl.origin && url.search === '' && url.hash === '' ? url.pathname : '';
      const prefix = baseUrl.pathname.replace(/\/$/, '');
      if (prefix && path.startsWith(prefix + '/')) path = path.slice(prefix.length);
    }
    const found = ADDRESS.exec(path);
    if (found) return { id: found[1], thumbnail: found[2] !== undefined };
  }
  throw new HelloCodeError(
    'invalid_argument',
    `not a media of this server: ${JSON.stringify(media)} (expected an id or /api/media/<id>)`,
  );
}

/**
 * A file name the server takes: not empty, not a path, no control characters, at most 255
 * characters (the server says the same; checked here so that nothing is sent in vain).
 * @param {unknown} name
 * @returns {string}
 */
export function checkedFileName(name) {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new HelloCodeError('invalid_argument', 'the file name must be a non-empty string');
  }
  if ([...name].length > MAX_FILE_NAME_CHARS) {
    throw new HelloCodeError('invalid_argument', `the file name is longer than ${MAX_FILE_NAME_CHARS} characters`);
  }
  if (/[/\\]/.test(name) || name === '.' || name === '..') {
    throw new HelloCodeError('invalid_argument', 'the file name must be a name, not a path');
  }
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw new HelloCodeError('invalid_argument', 'the file name has control characters');
  }
  return name;
}

/**
 * The attachment ids a message carries, checked: 1 to 10 ids (addresses `/api/media/<id>` are
 * taken as their id), no repeats.
 * @param {unknown} attachments
 * @returns {string[]}
 */
export function checkedAttachments(attachments) {
  if (!Array.isArray(attachments)) throw new HelloCodeError('invalid_argument', 'attachments must be a list of media ids');
  if (attachments.length > MAX_ATTACHMENTS) {
    throw new HelloCodeError('invalid_argument', `a message carries at most ${MAX_ATTACHMENTS} attachments`);
  }
  const ids = attachments.map((item) => {
    const id = typeof item === 'object' && item !== null && 'id' in item ? item.id : item;
    const found = typeof id === 'string' ? (CONTENT_ID.test(id) ? [id, id] : ADDRESS.exec(id)) : null;
    if (!found || found[2] !== undefined) {
      throw new HelloCodeError('invalid_argument', `not an attachment id: ${JSON.stringify(id)}`);
    }
    return found[1];
  });
  return [...new Set(ids)];
}

/** The body of an upload, as a `Blob` (what `fetch` and `XMLHttpRequest` both send as it is). @param {UploadData} data @returns {Blob} */
function uploadBody(data) {
  if (typeof data === 'string') return new Blob([new TextEncoder().encode(data)]);
  if (data instanceof Blob) return data;
  if (data instanceof ArrayBuffer) return new Blob([data]);
  if (ArrayBuffer.isView(data)) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // A view of a SharedArrayBuffer is copied (a Blob takes ArrayBuffer-backed bytes).
    return new Blob([bytes.buffer instanceof ArrayBuffer ? /** @type {Uint8Array<ArrayBuffer>} */ (bytes) : bytes.slice()]);
  }
  throw new HelloCodeError('invalid_argument', 'the data must be a Blob, an ArrayBuffer, a typed array or a string');
}

/**
 * The error of a refused HTTP request: the server's `{code, message}` when the body has one,
 * else a code for the status (as the WebSocket's codes: `forbidden`, `not_found`, ...); a 413
 * is always `too_large` (as in the Rust SDK).
 * @param {number} status @param {string} body @param {string | null} retryAfterHeader
 */
export function httpError(status, body, retryAfterHeader) {
  /** @type {unknown} */
  let parsed = null;
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON: a proxy's page, say
  }
  const object = typeof parsed === 'object' && parsed !== null ? /** @type {Record<string, unknown>} */ (parsed) : {};
  const retryAfter = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader.trim()) ? Number(retryAfterHeader) : undefined;
  let code = status === 413 ? 'too_large' : typeof object.code === 'string' ? object.code : null;
  let message = typeof object.message === 'string' ? object.message : null;
  if (code === null) {
    code = statusCode(status);
    // 422 of the validation kind: `{field: [messages]}`.
    if (message === null && status === 422 && Object.keys(object).length > 0) {
      message = Object.entries(object)
        .map(([field, messages]) => `${field}: ${Array.isArray(messages) ? messages.join(' ') : String(messages)}`)
        .join('; ');
    }
  }
  message ??= `HTTP ${status}`;
  return new HelloCodeError(code, `refused by the server (${code}): ${message}`, { retryAfter, server: true, status });
}

/** The code of an HTTP status the server gave no code with. @param {number} status */
function statusCode(status) {
  switch (status) {
    case 401:
      return 'invalid_token';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 413:
      return 'too_large';
    case 422:
      return 'validation_failed';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    default:
      return status >= 500 ? 'internal' : 'invalid_field';
  }
}

/** @param {unknown} error */
function describe(error) {
  if (error instanceof Error) {
    const cause = /** @type {{cause?: unknown}} */ (error).cause;
    return cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
  }
  return String(error);
}

/**
 * What a transfer needs of the client.
 * @typedef {object} Http
 * @property {string} base the server's HTTP base
 * @property {string} token
 * @property {number} timeoutMs a transfer in which nothing moves for this long fails with `timeout`
 */

/**
 * Upload a file: POST its bytes to `path` (with `?name=`); the server's media object (201).
 * The type is left to the server, which detects it from the content (a browser's guess from
 * the file's extension, such as `video/mp2t` for a `.ts` file, would be refused).
 * @param {Http} http @param {string} path @param {string} name @param {UploadData} data
 * @param {Progress | undefined} progress
 * @returns {Promise<Media>}
 */
export async function upload(http, path, name, data, progress) {
  const body = uploadBody(data);
  const size = body.size;
  if (size === 0) throw new HelloCodeError('invalid_argument', 'the file is empty');
  const url = `${http.base}${path}?name=${encodeURIComponent(name)}`;
  const headers = { authorization: `Bearer ${http.token}`, 'content-type': 'application/octet-stream' };
  const { status, text, retryAfter } =
    typeof globalThis.XMLHttpRequest === 'function'
      ? await uploadWithXhr(url, headers, body, size, progress, http.timeoutMs)
      : await uploadWithFetch(url, headers, body, size, progress, http.timeoutMs);
  if (status !== 201 && status !== 200) throw httpError(status, text, retryAfter);
  /** @type {unknown} */
  let media;
  try {
    media = JSON.parse(text);
  } catch {
    media = null;
  }
  if (typeof media !== 'object' || media === null || typeof (/** @type {any} */ (media).id) !== 'string') {
    throw new HelloCodeError('protocol', 'the server answered an upload without a media object');
  }
  return /** @type {Media} */ (media);
}

/**
 * @typedef {{status: number, text: string, retryAfter: string | null}} Answer
 */

/**
 * A browser's upload, with progress as the bytes go. Nothing moving for `timeoutMs` is a stall.
 * @param {string} url @param {Record<string, string>} headers @param {Blob} body
 * @param {number} size @param {Progress | undefined} progress @param {number} timeoutMs
 * @returns {Promise<Answer>}
 */
function uploadWithXhr(url, headers, body, size, progress, timeoutMs) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let timer;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        request.abort();
        reject(new HelloCodeError('timeout', `the upload stalled: nothing moved for ${timeoutMs} ms`));
      }, timeoutMs);
    };
    request.open('POST', url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.addEventListener('progress', (event) => {
      arm();
      if (event.loaded < size) progress?.(event.loaded, size);
    });
    request.addEventListener('load', () => {
      clearTimeout(timer);
      if (request.status === 201 || request.status === 200) progress?.(size, size);
      resolve({ status: request.status, text: request.responseText, retryAfter: request.getResponseHeader('retry-after') });
    });
    request.addEventListener('error', () => {
      clearTimeout(timer);
      reject(new HelloCodeError('transport', `the upload to ${url} failed`));
    });
    arm();
    request.send(body);
  });
}

/**
 * An upload where there is no `XMLHttpRequest` (Node): `fetch` with the body whole (the server
 * wants its length first, so no streamed body), progress once it is accepted. The transfer may
 * take `timeoutMs` plus a second per 16 KiB.
 * @param {string} url @param {Record<string, string>} headers @param {Blob} body
 * @param {number} size @param {Progress | undefined} progress @param {number} timeoutMs
 * @returns {Promise<Answer>}
 */
async function uploadWithFetch(url, headers, body, size, progress, timeoutMs) {
  const limit = timeoutMs + Math.ceil((size / SLOWEST_BYTES_PER_SECOND) * 1000);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), limit);
  try {
    const response = await fetch(url, { method: 'POST', headers, body, signal: abort.signal });
    const text = await response.text();
    if (response.status === 201 || response.status === 200) progress?.(size, size);
    return { status: response.status, text, retryAfter: response.headers.get('retry-after') };
  } catch (error) {
    if (abort.signal.aborted) throw new HelloCodeError('timeout', `the upload took longer than ${limit} ms`);
    throw new HelloCodeError('transport', `the upload to ${url} failed: ${describe(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Download `path`: the body read as a stream, progress reported per chunk. Nothing moving for
 * `timeoutMs` fails with `timeout`.
 * @param {Http} http @param {string} path @param {Progress | undefined} progress
 * @returns {Promise<Download>}
 */
export async function download(http, path, progress) {
  const url = `${http.base}${path}`;
  const abort = new AbortController();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(), http.timeoutMs);
  };
  arm();
  try {
    const response = await fetch(url, { headers: { authorization: `Bearer ${http.token}` }, signal: abort.signal });
    if (!response.ok) {
      throw httpError(response.status, await response.text(), response.headers.get('retry-after'));
    }
    const contentType = response.headers.get('content-type') ?? 'application/octet-stream';
    const length = response.headers.get('content-length');
    const total = length !== null && /^\d+$/.test(length) ? Number(length) : null;
    /** @type {Uint8Array[]} */
    const chunks = [];
    let done = 0;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        arm();
        const read = await reader.read();
        if (read.done) break;
        chunks.push(read.value);
        done += read.value.byteLength;
        if (done !== total) progress?.(done, total);
      }
    }
    if (total !== null && done !== total) {
      throw new HelloCodeError('transport', `the download ended after ${done} of ${total} bytes`);
    }
    const data = new Uint8Array(done);
    let at = 0;
    for (const chunk of chunks) {
      data.set(chunk, at);
      at += chunk.byteLength;
    }
    progress?.(done, done);
    return { contentType, data };
  } catch (error) {
    if (error instanceof HelloCodeError) throw error;
    if (abort.signal.aborted) throw new HelloCodeError('timeout', `the download stalled: nothing moved for ${http.timeoutMs} ms`);
    throw new HelloCodeError('transport', `the download of ${url} failed: ${describe(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The attachment a message would describe, from the server's media object.
 * @param {Media} media
 * @returns {Attachment}
 */
export function attachmentOf(media) {
  /** @type {Attachment} */
  const attachment = { id: media.id, name: media.name, contentType: media.contentType, size: media.size };
  if (media.width !== undefined && media.width !== null) attachment.width = media.width;
  if (media.height !== undefined && media.height !== null) attachment.height = media.height;
  if (media.thumbnail !== undefined && media.thumbnail !== null) attachment.thumbnail = media.thumbnail;
  return attachment;
}
