// Building DOM from data. Text always goes in through text nodes, never through an HTML parser:
// the page's Content-Security-Policy requires Trusted Types, so an innerHTML with a string would
// throw anyway.

/** `el('p', {class: 'x', onclick: f}, 'text', child)`: an element with attributes and children. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

/** Append strings (as text) and nodes, skipping null and false. */
export function append(parent, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace every child of `parent`. */
export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;

/**
 * A message's text as nodes: http and https URLs become links that open in a new tab without
 * an opener or a referrer; `inline code` and ``` fenced blocks ``` are shown as code. Nothing in
 * the text is ever read as markup.
 */
export function richText(text) {
  const fragment = document.createDocumentFragment();
  const parts = text.split('```');
  parts.forEach((part, index) => {
    const fenced = index % 2 === 1 && index < parts.length - 1;
    if (fenced) {
      // A language name on the fence's first line is a label, not code.
      const body = part.replace(/^[\w+#.-]*\n/, '');
      fragment.append(el('pre', { class: 'code-block' }, el('code', {}, body.replace(/\n$/, ''))));
    } else {
      const text = index % 2 === 1 ? '```' + part : part;
      appendInline(fragment, text);
    }
  });
  return fragment;
}

function appendInline(parent, text) {
  const pieces = text.split(/(`[^`\n]+`)/);
  for (const piece of pieces) {
    if (piece.length > 2 && piece.startsWith('`') && piece.endsWith('`')) {
      parent.append(el('code', { class: 'inline-code' }, piece.slice(1, -1)));
    } else {
      appendLinks(parent, piece);
    }
  }
}

function appendLinks(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let candidate = match[0];
    const trailing = candidate.match(TRAILING_PUNCTUATION);
    if (trailing) candidate = candidate.slice(0, -trailing[0].length);
    const url = safeUrl(candidate);
    if (!url) continue;
    parent.append(document.createTextNode(text.slice(last, match.index)));
    parent.append(el('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, candidate));
    last = match.index + candidate.length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

/** The URL if it parses and is http or https; else null. */
export function safeUrl(text) {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });

/** "14:05" today, "Tue 3 Nov" before. */
export function shortTime(timestamp) {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return '';
  const today = new Date();
  return date.toDateString() === today.toDateString() ? timeFormat.format(date) : dayFormat.format(date);
}

/** "14:05" always (within a day's run of messages). */
export function clockTime(timestamp) {
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? '' : timeFormat.format(date);
}

/** Show one field's error beside it (and mark the field invalid), or clear it with ''. */
export function fieldError(form, id, message) {
  const holder = document.getElementById(id + '-error');
  const input = form.querySelector('#' + CSS.escape(id));
  if (holder) holder.textContent = message;
  if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
}
