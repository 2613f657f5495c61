// @ts-check
/**
 * Authentication on a new connection: the token if there is one, else the password; an expired
 * token falls back to the password, and `registerOrLogin` registers when the login is refused.
 * Every authentication command declares protocol version 2. After the Rust SDK's
 * `driver/session/handshake.rs`.
 */

import { Chats } from './chats.js';
import { fromFrame, HelloCodeError } from './errors.js';
import { PROTOCOL_VERSION } from './config.js';

/** @typedef {import('./session.js').Session} Session */
/** @typedef {import('./session.js').Frame} Frame */
/** @typedef {import('./session.js').Step} Step */

/** Put the first authentication command on the wire. @param {Session} session @param {number} attempt */
export function startHandshake(session, attempt) {
  const credentials = session.credentials;
  if (session.token !== null) {
    sendHandshake(session, attempt, { name: 'first', withToken: true }, { command: 'auth', token: session.token });
  } else if (credentials.kind === 'token') {
    sendHandshake(session, attempt, { name: 'first', withToken: true }, { command: 'auth', token: credentials.token });
  } else if (credentials.kind === 'register') {
    sendHandshake(session, attempt, { name: 'first', withToken: false }, registerFrame(credentials));
  } else {
    sendHandshake(session, attempt, { name: 'first', withToken: false }, loginFrame(credentials));
  }
}

/** @param {Session} session @param {number} attempt @param {Step} step @param {Frame} command */
function sendHandshake(session, attempt, step, command) {
  const id = session.nextId++;
  session.phase = { name: 'handshake', attempt, id, step };
  session.write({ ...command, id, protocol: PROTOCOL_VERSION });
}

/** The reply to the authentication command. @param {Session} session @param {Frame} frame */
export function onHandshakeReply(session, frame) {
  const phase = session.phase;
  if (phase.name !== 'handshake') return;
  const { attempt, step } = phase;
  session.phase = { name: 'connecting', attempt };
  if (frame.command === 'authenticated') {
    authenticated(session, String(frame.username), typeof frame.token === 'string' ? frame.token : null);
    return;
  }
  if (frame.command !== 'error') {
    session.lose(new HelloCodeError('protocol', `expected \`authenticated\`, got \`${frame.command}\``));
    return;
  }
  const refusal = fromFrame(frame);
  const credentials = session.credentials;
  if (step.name === 'first' && step.withToken && refusal.code === 'invalid_token' && credentials.kind !== 'token') {
    // The token expired: log in again.
    session.setToken(null);
    sendHandshake(session, attempt, { name: 'relogin' }, loginFrame(credentials));
  } else if (step.name === 'first' && !step.withToken && refusal.code === 'invalid_credentials' && credentials.kind === 'register_or_login') {
    // No such account, or another password: registering tells which.
    sendHandshake(session, attempt, { name: 'register', loginRefused: refusal }, registerFrame(credentials));
  } else if (step.name === 'register' && refusal.code === 'username_taken') {
    session.lose(step.loginRefused); // the account exists, so the login's refusal stands
  } else {
    // A token refused is dead: never offered again (nor kept in the storage).
    if (refusal.code === 'invalid_token') session.setToken(null);
    session.lose(refusal);
  }
}

/** @param {Session} session @param {string} username @param {string | null} token */
function authenticated(session, username, token) {
  if (token !== null) session.setToken(token);
  const credentials = session.credentials;
  if (credentials.kind === 'register' || credentials.kind === 'register_or_login') {
    // Registered (or found) once; from now on this account logs in.
    session.credentials = { kind: 'password', username: credentials.username, password: credentials.password };
  }
  session.username = username;
  if (session.first) {
    restore(session, username);
    // Knowing the chats before `connect` resolves fixes where each starts.
    session.phase = { name: 'first_sync' };
    session.sync.needed = true;
  } else {
    session.becomeReady();
  }
}

/**
 * The first authentication: take over what a previous client of this user left in the
 * storage (positions to resume from, sends to make), or clear another user's.
 * @param {string} username
 * @param {Session} session
 */
function restore(session, username) {
  const saved = session.saved;
  if (saved.username !== null && saved.username !== username) {
    const token = session.token;
    session.persistence.clear();
    session.setToken(token);
  } else {
    session.chats = new Chats(saved.positions);
    for (const send of saved.pending) {
      if (session.outbox.size < session.config.sendQueue) session.queue(send, null);
    }
  }
  session.persistence.saveUsername(username);
}

/** @param {{username: string, password: string}} credentials */
function loginFrame(credentials) {
  return { command: 'login', username: credentials.username, password: credentials.password };
}

/** @param {{username: string, password: string, email: string}} credentials */
function registerFrame(credentials) {
  return {
    command: 'register',
    username: credentials.username,
    email: credentials.email,
    password: credentials.password,
    password_confirmation: credentials.password,
  };
}
