// The Tokens tab: every API token (never a key), revoke any, and make one for yourself or, as a
// service token, for another user. A new key is shown once, in the page, never again.
const SCOPES = ['chat:read', 'chat:publish', 'chat:moderate', 'admin:users', 'admin:certs', 'admin:vpn', 'admin:alerts'];

export async function tokensTab({ api, h, render, perform, ask, table, when, tag, formValues, flash }) {
  const tokens = await api('GET', '/admin/tokens');
  const revoke = (t) => async (e) => {
    const button = e.currentTarget;
    if (!(await ask(`Revoke token “${t.name}” of ${t.user.username}?`,
      'Programs using it are refused at once, and its open chat sockets are closed, on every instance. This cannot be undone.', 'Revoke'))) return;
    await perform({ button, busy: 'Revoking…', done: `Token “${t.name}” revoked.`, failed: `Could not revoke token “${t.name}”` },
      () => api('DELETE', `/admin/tokens/${t.id}`));
  };
  const rows = tokens.map((t) => h('tr', { 'data-token': String(t.id) },
    h('td', {}, h('strong', { text: t.name }), h('br'), h('code.muted', { text: `${t.prefix}…` })),
    h('td', { text: t.user.username }),
    h('td', {}, ...t.scopes.map((s) => tag(s))),
    h('td', { text: when(t.createdAt) }),
    h('td', {}, t.expired ? tag('expired') : h('span', { text: t.expiresAt ? when(t.expiresAt) : 'never' })),
    h('td', { text: when(t.lastUsedAt) }),
    h('td.actions', {}, h('button.danger', { type: 'button', text: 'Revoke', 'aria-label': `Revoke token ${t.name}`, onclick: revoke(t) }))));
  const shown = h('div#new-token.card', { hidden: true });
  const create = h('form#create-token.stack', { onsubmit: async (e) => {
      e.preventDefault();
      const form = e.target;
      const values = formValues(form);
      const scopes = SCOPES.filter((s) => form.querySelector(`input[name="scope"][value="${s}"]`).checked);
      const body = { name: values.name, scopes };
      if (values.days.trim() !== '') body.expiresInDays = Number(values.days);
      const button = e.submitter || form.querySelector('button');
      button.disabled = true;
      try {
        if (values.username.trim() !== '') {
          const { results } = await api('GET', `/admin/users?${new URLSearchParams({ search: values.username.trim() })}`);
          const owner = results.find((u) => u.username === values.username.trim());
          if (!owner) throw new Error(`no user named ${values.username.trim()}`);
          body.user = owner.id;
        }
        const made = await api('POST', '/auth/tokens', body);
        await render();
        // After the re-render: the key is shown in the fresh page, this once.
        const box = document.getElementById('new-token');
        box.replaceChildren(
          h('p', {}, h('strong', { text: `Token “${made.name}” for ${made.user.username}. ` }), 'Copy the key now: it is not shown again.'),
          h('code#new-token-key.key', { text: made.key }),
          h('p.muted', { text: `Send it as: Authorization: Token ${made.key.slice(0, 9)}…` }));
        box.hidden = false;
        flash(`Token “${made.name}” made.`);
      } catch (err) {
        flash(`Could not make the token: ${(err.messages || [err.message]).join(' ')}`, true);
      } finally {
        if (button.isConnected) button.disabled = false;
      }
    } },
    h('label', {}, 'Name ', h('input', { name: 'name', required: true, maxlength: 100, placeholder: 'deploy script' })),
    h('fieldset', {}, h('legend', { text: 'Scopes' }),
      ...SCOPES.map((s) => h('label.check', {}, h('input', { type: 'checkbox', name: 'scope', value: s }), ` ${s}`))),
    h('label', {}, 'Expires in days ', h('input', { name: 'days', type: 'number', min: 1, max: 3650, placeholder: 'never' })),
    h('label', {}, 'For user ', h('input', { name: 'username', placeholder: 'yourself', maxlength: 150, 'aria-label': 'For user (a service token)' })),
    h('button', { type: 'submit', text: 'Make token' }));
  return [
    h('section', {}, h('h2', { text: `API tokens (${tokens.length})` }),
      h('p.muted', { text: 'Programs send a token as “Authorization: Token <key>”; it acts as its user, narrowed to its scopes.' }),
      shown,
      tokens.length ? table(['Token', 'User', 'Scopes', 'Made', 'Expires', 'Last used', ''], rows) : h('p.muted#no-tokens', { text: 'No API tokens.' })),
    h('section', {}, h('h2', { text: 'Make a token' }), create),
  ];
}
