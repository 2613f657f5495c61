// Finding people by the language they want to explore, the app's purpose, and starting a chat
// with one of them (a direct chat) or several (a group).

import { el, replaceChildren } from './dom.js';
import { describe } from './sign-in.js';

export function setUpPeople(app) {
  const dialog = document.getElementById('people');
  const form = document.getElementById('people-search');
  const select = document.getElementById('people-language');
  const status = document.getElementById('people-status');
  const results = document.getElementById('people-results');
  const start = document.getElementById('people-start');

  const chosen = () => [...results.querySelectorAll('input[type="checkbox"]:checked')].map((box) => box.value);
  const updateStart = () => {
    const names = chosen();
    start.disabled = names.length === 0;
    start.textContent = names.length > 1 ? `Start a group with ${names.length}` : 'Start chat';
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const language = select.value;
    if (!language) return;
    status.textContent = `Looking for people who want to explore ${language}…`;
    replaceChildren(results);
    updateStart();
    try {
      const found = await app.client.findUsers({ language });
      const users = (Array.isArray(found) ? found : (found?.users ?? [])).filter((user) => user.username !== app.me);
      status.textContent = users.length
        ? `${users.length} ${users.length === 1 ? 'person wants' : 'people want'} to explore ${language}.`
        : `No one else has picked ${language} yet.`;
      replaceChildren(results, users.map(person));
    } catch (error) {
      status.textContent = describe(error);
    }
  });
  results.addEventListener('change', updateStart);

  start.addEventListener('click', async () => {
    const names = chosen();
    if (names.length === 0) return;
    start.disabled = true;
    try {
      await app.startChat(names);
      dialog.close();
    } catch (error) {
      status.textContent = describe(error);
    } finally {
      updateStart();
    }
  });

  function person(user) {
    const id = `person-${user.username}`;
    const online = app.isOnline(user.username);
    const details = [user.languages?.join(', '), user.timezone].filter(Boolean).join(' · ');
    return el(
      'li',
      { class: 'person' },
      el('input', { type: 'checkbox', id, value: user.username, 'aria-describedby': `${id}-details` }),
      el(
        'label',
        { for: id },
        el('span', { class: 'person-name' }, user.username, online ? el('span', { class: 'dot online', 'aria-label': 'online' }) : null),
        el('span', { class: 'person-details', id: `${id}-details` }, details),
      ),
    );
  }

  return {
    async open() {
      status.textContent = '';
      replaceChildren(results);
      updateStart();
      dialog.showModal();
      try {
        const [languages, profile] = await Promise.all([app.languages(), app.profile()]);
        const mine = profile?.languages ?? [];
        replaceChildren(select, languages.map((name) => el('option', { value: name }, name)));
        select.value = mine[0] ?? languages[0] ?? '';
        select.focus();
      } catch (error) {
        status.textContent = describe(error);
      }
    },
  };
}
