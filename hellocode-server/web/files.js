// Files in the page: avatars, the images and files messages carry, and what the composer
// uploads. The server serves a file only with the token (an <img src> could not send it), so
// each is downloaded through the client module, shown through an object URL, and that URL is
// revoked once nothing shows it any more.

import { el } from './dom.js';

/** "980 B", "12 KB", "2.4 MB". */
export function fileSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1000)} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** Whether the page shows an attachment inline: an image the server decoded (it has a size). */
export function isImage(attachment) {
  return /^image\/(png|jpeg|gif|webp)$/.test(attachment.contentType) && Number(attachment.width) > 0;
}

/**
 * Object URLs of files, by address (`/api/media/<id>[/thumbnail]`): each downloaded once while
 * it is wanted, all revoked together by `clear()` (a chat closed, a sign-out).
 */
export class ObjectUrls {
  constructor(client) {
    this.client = client;
    /** address → Promise of its object URL */
    this.urls = new Map();
    /** address → its object URL, once known (for drawing without waiting) */
    this.ready = new Map();
  }

  /** The object URL of `address`, downloaded the first time. */
  get(address) {
    let url = this.urls.get(address);
    if (!url) {
      url = this.client.download(address).then(({ contentType, data }) => {
        const made = URL.createObjectURL(new Blob([data], { type: contentType }));
        if (this.urls.get(address) !== url) {
          URL.revokeObjectURL(made); // cleared while it came
          throw new Error('no longer wanted');
        }
        this.ready.set(address, made);
        return made;
      });
      url.catch(() => {
        if (this.urls.get(address) === url) this.urls.delete(address);
      });
      this.urls.set(address, url);
    }
    return url;
  }

  /** The object URL of `address` if it has come, else null. */
  known(address) {
    return this.ready.get(address) ?? null;
  }

  /** Revoke one. */
  revoke(address) {
    const url = this.ready.get(address);
    if (url) URL.revokeObjectURL(url);
    this.ready.delete(address);
    this.urls.delete(address);
  }

  /** Revoke every URL made (those still coming are revoked as they come). */
  clear() {
    for (const url of this.ready.values()) URL.revokeObjectURL(url);
    this.ready.clear();
    this.urls.clear();
  }
}

/**
 * The files of a message: images inline (their thumbnail; a click opens the whole image) and
 * other files as links that download them with the token and save them under their name.
 * `urls` is the open chat's `ObjectUrls`; `openImage(attachment)` shows an image whole.
 */
export function attachmentsNode(attachments, urls, openImage) {
  if (!attachments?.length) return null;
  return el(
    'ul',
    { class: 'attachments' },
    attachments.map((attachment) => el('li', {}, isImage(attachment) ? imageNode(attachment, urls, openImage) : fileNode(attachment, urls))),
  );
}

function imageNode(attachment, urls, openImage) {
  const address = `/api/media/${attachment.id}${attachment.thumbnail ? '/thumbnail' : ''}`;
  // The thumbnail fits 320 × 320: reserve its box, so that nothing jumps when it comes.
  const scale = Math.min(1, 320 / Math.max(attachment.width, attachment.height));
  const image = el('img', {
    alt: attachment.name,
    width: Math.max(1, Math.round(attachment.width * scale)),
    height: Math.max(1, Math.round(attachment.height * scale)),
    'data-media': attachment.id,
  });
  const known = urls.known(address);
  if (known) image.src = known;
  else urls.get(address).then((url) => (image.src = url), () => image.classList.add('broken'));
  return el(
    'button',
    { type: 'button', class: 'attachment-image', 'aria-label': `Open the image ${attachment.name}`, onclick: () => openImage(attachment) },
    image,
  );
}

function fileNode(attachment, urls) {
  const address = `/api/media/${attachment.id}`;
  const link = el(
    'a',
    { class: 'attachment-file', href: address, download: attachment.name, 'data-media': attachment.id },
    el('span', { class: 'file-icon', 'aria-hidden': 'true' }, '⬇'),
    el('span', { class: 'file-name' }, attachment.name),
    el('span', { class: 'file-size' }, fileSize(attachment.size)),
  );
  link.addEventListener('click', async (event) => {
    if (link.href.startsWith('blob:')) return; // fetched: the browser saves it
    event.preventDefault();
    if (link.getAttribute('aria-busy') === 'true') return;
    link.setAttribute('aria-busy', 'true');
    try {
      link.href = await urls.get(address);
      link.click();
    } catch {
      link.classList.add('broken');
      link.title = 'Could not download this file';
    } finally {
      link.removeAttribute('aria-busy');
    }
  });
  return link;
}

/**
 * The files waiting in the composer: each uploads at once (its progress shown), and the
 * message goes with those uploaded. `upload(file, progress)` resolves with the attachment.
 */
export class StagedFiles {
  constructor(list, upload) {
    this.list = list;
    this.upload = upload;
    /** {file, done, attachment, error, promise, node} */
    this.items = [];
  }

  get size() {
    return this.items.length;
  }

  /** Start uploading `files` (a FileList or an array of File). */
  add(files) {
    for (const file of files) {
      const item = { file, done: 0, attachment: null, error: null, node: null };
      item.promise = this.upload(file, (done, total) => {
        item.done = total ? done / total : 0;
        this.draw();
      }).then(
        (attachment) => {
          item.attachment = attachment;
          item.done = 1;
          this.draw();
          return attachment;
        },
        (error) => {
          item.error = error;
          this.draw();
          throw error;
        },
      );
      item.promise.catch(() => {});
      this.items.push(item);
    }
    this.draw();
  }

  /** Wait for every upload; the attachments (rejects when one failed, which stays shown). */
  async attachments() {
    return Promise.all(this.items.map((item) => item.promise));
  }

  clear() {
    this.items = [];
    this.draw();
  }

  remove(item) {
    this.items = this.items.filter((other) => other !== item);
    this.draw();
  }

  draw() {
    this.list.hidden = this.items.length === 0;
    this.list.replaceChildren(
      ...this.items.map((item) => {
        const state = item.error
          ? `not uploaded: ${item.error.message ?? item.error}`
          : item.attachment
            ? fileSize(item.attachment.size)
            : `uploading ${Math.round(item.done * 100)}%`;
        return el(
          'li',
          { class: item.error ? 'staged-file failed' : item.attachment ? 'staged-file done' : 'staged-file' },
          el('span', { class: 'file-name' }, item.file.name || 'pasted file'),
          ' ',
          el('span', { class: 'file-size' }, state),
          item.attachment || item.error
            ? null
            : el('progress', { max: 100, value: Math.round(item.done * 100), 'aria-label': `Uploading ${item.file.name}` }),
          el('button', { type: 'button', class: 'ghost small', 'aria-label': `Remove ${item.file.name}`, onclick: () => this.remove(item) }, '×'),
        );
      }),
    );
  }
}

/** Up to two letters for an avatar: "alice" → "AL", "Crab club" → "CC". */
export function initials(title) {
  const words = title.split(/[\s,]+/).filter(Boolean);
  const letters = words.length > 1 ? words[0][0] + words[1][0] : (words[0] ?? '?').slice(0, 2);
  return letters.toUpperCase();
}

/** An avatar: the picture at object URL `url` when there is one, else the initials of `title`. */
export function avatarNode(url, title, size = '') {
  return el(
    'span',
    { class: size ? `avatar ${size}` : 'avatar', 'aria-hidden': 'true' },
    url ? el('img', { src: url, alt: '', class: 'avatar-image' }) : initials(title),
  );
}
