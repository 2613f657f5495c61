// One's own profile: a picture, the time zone and the languages one wants to explore (what
// others find one by). Shown after registering, and from the Profile button.

import { el, fieldError, replaceChildren } from './dom.js';
import { avatarNode } from './files.js';
import { describe } from './sign-in.js';

export function setUpProfile(app) {
  const dialog = document.getElementById('profile');
  const form = document.getElementById('profile-form');
  const intro = document.getElementById('profile-intro');
  const timezone = document.getElementById('profile-timezone');
  const grid = document.getElementById('profile-languages');
  const newLanguage = document.getElementById('profile-new-language');
  const add = document.getElementById('profile-add-language');
  const error = document.getElementById('profile-error');
  const avatar = document.getElementById('profile-avatar');
  const avatarFile = document.getElementById('profile-avatar-file');
  const avatarProgress = document.getElementById('profile-avatar-progress');
  const avatarError = document.getElementById('profile-avatar-error');

  const drawAvatar = () => replaceChildren(avatar, avatarNode(app.avatarOf(app.me), app.me, 'large'));

  document.getElementById('profile-avatar-button').addEventListener('click', () => avatarFile.click());
  avatarFile.addEventListener('change', async () => {
    const file = avatarFile.files?.[0];
    avatarFile.value = '';
    if (!file) return;
    avatarError.textContent = '';
    avatarProgress.value = 0;
    avatarProgress.hidden = false;
    try {
      await app.uploadAvatar(file, (done, total) => (avatarProgress.value = total ? (100 * done) / total : 0));
    } catch (failure) {
      avatarError.textContent = describe(failure);
    } finally {
      avatarProgress.hidden = true;
    }
  });

  const box = (name, checked) => {
    const id = `language-${name.replace(/[^\w-]/g, (c) => `_${c.codePointAt(0)}`)}`;
    return el(
      'span',
      { class: 'language' },
      el('input', { type: 'checkbox', id, name: 'language', value: name, checked }),
      el('label', { for: id }, name),
    );
  };

  add.addEventListener('click', () => addLanguage());
  newLanguage.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      addLanguage();
    }
  });

  async function addLanguage() {
    const name = newLanguage.value.trim();
    fieldError(form, 'profile-new-language', '');
    if (!name) return;
    try {
      const language = await app.client.addLanguage(name);
      const added = typeof language === 'string' ? language : (language?.name ?? name);
      app.forgetLanguages();
      const existing = [...grid.querySelectorAll('input')].find((input) => input.value === added);
      if (existing) existing.checked = true;
      else grid.append(box(added, true));
      newLanguage.value = '';
    } catch (failure) {
      fieldError(form, 'profile-new-language', describe(failure));
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    fieldError(form, 'profile-timezone', '');
    const languages = [...grid.querySelectorAll('input:checked')].map((input) => input.value);
    try {
      await app.saveProfile({ timezone: timezone.value.trim(), languages });
      dialog.close();
    } catch (failure) {
      if (/time ?zone/i.test(failure?.message ?? '')) fieldError(form, 'profile-timezone', describe(failure));
      else error.textContent = describe(failure);
    }
  });

  return {
    /** The picture changed (or came): show it, if the dialog is open. */
    drawAvatar() {
      if (dialog.open) drawAvatar();
    },

    /** Open the dialog; `welcome` for a new account. */
    async open({ welcome = false } = {}) {
      intro.textContent = welcome
        ? `Welcome, ${app.me}! Pick the languages you want to explore: people who picked the same find you, and you them.`
        : '';
      error.textContent = '';
      avatarError.textContent = '';
      drawAvatar();
      dialog.showModal();
      try {
        const [languages, profile] = await Promise.all([app.languages(), app.profile()]);
        const mine = new Set(profile?.languages ?? []);
        timezone.value = profile?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || '';
        replaceChildren(grid, languages.map((name) => box(name, mine.has(name))));
        grid.querySelector('input')?.focus();
      } catch (failure) {
        error.textContent = describe(failure);
      }
    },
  };
}
