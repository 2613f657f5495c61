// Signing in and creating an account, both through the client module (over the WebSocket: a
// refused REST request would be logged on the console as a failed resource). The server's
// refusal of a registration names each field's problems (its password rules among them):
// each is shown beside its field.

import { Client } from './hellocode.js';
import { fieldError } from './dom.js';
import { moduleStorage, socketUrl } from './session.js';

const REGISTER_FIELDS = ['username', 'email', 'password', 'password_confirmation'];

/**
 * Wire the sign-in screen once. `onSignedIn(client, {registered})` is called with a connected
 * client.
 */
export function setUpSignIn(onSignedIn) {
  const loginTab = document.getElementById('tab-login');
  const registerTab = document.getElementById('tab-register');
  const loginForm = document.getElementById('login-form');
  const registerForm = document.getElementById('register-form');

  function select(tab) {
    const login = tab === loginTab;
    loginTab.setAttribute('aria-selected', String(login));
    registerTab.setAttribute('aria-selected', String(!login));
    loginTab.tabIndex = login ? 0 : -1;
    registerTab.tabIndex = login ? -1 : 0;
    loginForm.hidden = !login;
    registerForm.hidden = login;
  }
  for (const tab of [loginTab, registerTab]) {
    tab.addEventListener('click', () => {
      select(tab);
      (tab === loginTab ? loginForm : registerForm).querySelector('input').focus();
    });
    // Arrow keys move between tabs, as in every tab list.
    tab.addEventListener('keydown', (event) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      const other = tab === loginTab ? registerTab : loginTab;
      select(other);
      other.focus();
    });
  }

  loginForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = loginForm.username.value.trim();
    const password = loginForm.password.value;
    fieldError(loginForm, 'login-username', username ? '' : 'Enter your username.');
    fieldError(loginForm, 'login-password', password ? '' : 'Enter your password.');
    setFormError('login-error', '');
    if (!username || !password) return focusFirstInvalid(loginForm);
    await busy(loginForm, async () => {
      try {
        const client = await connect({ login: { username, password } });
        loginForm.reset();
        onSignedIn(client, { registered: false });
      } catch (error) {
        if (error?.code === 'invalid_credentials') {
          fieldError(loginForm, 'login-password', 'Wrong username or password.');
          loginForm.password.focus();
        } else {
          setFormError('login-error', describe(error));
        }
      }
    });
  });

  registerForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const values = Object.fromEntries(REGISTER_FIELDS.map((name) => [name, registerForm[name].value]));
    values.username = values.username.trim();
    values.email = values.email.trim();
    const problems = checkRegistration(values);
    for (const name of REGISTER_FIELDS) {
      fieldError(registerForm, registerId(name), (problems[name] ?? []).join(' '));
    }
    setFormError('register-error', '');
    if (Object.keys(problems).length > 0) return focusFirstInvalid(registerForm);
    await busy(registerForm, async () => {
      try {
        const { username, email, password } = values;
        const client = await connect({ register: { username, password, email } });
        registerForm.reset();
        onSignedIn(client, { registered: true });
      } catch (error) {
        const refused = fieldProblems(error);
        if (!refused) return setFormError('register-error', describe(error));
        for (const name of REGISTER_FIELDS) {
          fieldError(registerForm, registerId(name), (refused[name] ?? []).join(' '));
        }
        focusFirstInvalid(registerForm);
      }
    });
  });

  return {
    show() {
      select(loginTab);
    },
  };
}

function registerId(name) {
  return name === 'password_confirmation' ? 'register-confirmation' : 'register-' + name;
}

/** The checks a browser can make before asking; the server checks again, and more. */
function checkRegistration({ username, email, password, password_confirmation: confirmation }) {
  const problems = {};
  const add = (field, message) => (problems[field] ??= []).push(message);
  if (!username) add('username', 'Choose a username.');
  if (!email) add('email', 'Enter your email address.');
  else if (!/^[^\s@]+@[^\s@]+$/.test(email)) add('email', 'Enter a valid email address.');
  if ([...password].length < 8) add('password', 'This password is too short. It must contain at least 8 characters.');
  else if (/^\d+$/.test(password)) add('password', 'This password is entirely numeric.');
  if (confirmation !== password) add('password_confirmation', 'The two passwords differ.');
  return problems;
}

/**
 * The per-field problems of a refused registration, `{field: [messages]}`, or null for any
 * other error. The server writes them as `field: messages; field: messages`.
 */
function fieldProblems(error) {
  if (error?.code === 'username_taken') return { username: ['A user with that username already exists.'] };
  if (error?.code !== 'validation_failed') return null;
  const problems = {};
  const pattern = /\b(username|email|password_confirmation|password): ([^;]+)/g;
  for (const [, field, message] of String(error.message).matchAll(pattern)) {
    (problems[field] ??= []).push(message.trim());
  }
  return Object.keys(problems).length ? problems : null;
}

/** A client signed in with `credentials`. */
export function connect(credentials) {
  return Client.connect({ url: socketUrl(), credentials, storage: moduleStorage });
}

/** A sentence for an error a person can act on. */
export function describe(error) {
  if (!error) return 'Something went wrong.';
  if (error.code === 'rate_limited') return 'Too many attempts; wait a moment and try again.';
  if (error.code === 'unavailable' || error.code === 'connection_lost' || error instanceof TypeError) {
    return 'Cannot reach the server. Check the connection and try again.';
  }
  return error.message || String(error);
}

function setFormError(id, message) {
  document.getElementById(id).textContent = message;
}

function focusFirstInvalid(form) {
  form.querySelector('[aria-invalid="true"]')?.focus();
}

/** Run `task` with the form's button disabled and marked busy. */
async function busy(form, task) {
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  form.setAttribute('aria-busy', 'true');
  try {
    await task();
  } finally {
    button.disabled = false;
    form.removeAttribute('aria-busy');
  }
}
