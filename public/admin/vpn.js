// The VPN tab (clients with their owners, one-time links, revoke) and offboarding (a page per user that
// says what will be taken away, then asks). Same helpers as admin.js, passed in.

const enc = encodeURIComponent;

export async function vpnTab({ api, h, flash, perform, confirmThen, ask, table, when, tag, formValues }) {
  const [status, clients, audit] = await Promise.all([
    api('GET', '/admin/vpn/status').catch((err) => ({ error: err.message })),
    api('GET', '/admin/vpn/clients').catch(() => []),
    api('GET', '/admin/vpn/audit').catch(() => []),
  ]);
  const create = h('form.inline#create-vpn', { onsubmit: (e) => { e.preventDefault(); const { name, user } = formValues(e.target);
      const owner = user.trim() === '' ? undefined : /^\d+$/.test(user.trim()) ? Number(user.trim()) : user.trim();
      perform({ button: e.submitter, busy: 'Creating…', done: `VPN client ${name} created${owner ? ` for ${user}` : ''}.`, failed: `Could not create VPN client ${name}` },
        () => api('POST', '/admin/vpn/clients', { name, user: owner })); } },
    h('input', { name: 'name', placeholder: 'client name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}', 'aria-label': 'Client name' }),
    h('input', { name: 'user', placeholder: 'owner (username, optional)', 'aria-label': 'Owner', maxlength: 150 }),
    h('button', { type: 'submit', text: 'Create client' }));
  const linkCard = h('div#vpn-link.card', { hidden: true });
  const connected = await connectionsSection({ api, h, flash, ask, when, table });
  const makeLink = (c) => async (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const link = await api('POST', `/admin/vpn/clients/${enc(c.name)}/link`);
      linkCard.replaceChildren(
        h('strong', { text: `One-time download link for ${c.name}` }),
        h('input#vpn-link-url', { value: link.url, readonly: true, 'aria-label': 'Download link', onfocus: (ev) => ev.target.select() }),
        h('span.muted', { text: `Works once, until ${when(link.expiresAt)}. It is not shown again.` }));
      linkCard.hidden = false;
      flash(`Link for ${c.name} made.`);
    } catch (err) {
      flash(`Could not make a link for ${c.name}: ${err.message}`, true);
    } finally {
      button.disabled = false;
    }
  };
  const rows = clients.map((c) => h('tr', { 'data-client': c.name },
    h('td', { text: c.name }), h('td', { text: c.owner ? c.owner.username : '—' }), h('td', {}, tag(c.status)), h('td', { text: when(c.notAfter) }),
    h('td', { text: c.createdBy ? `${c.createdBy}, ${when(c.createdAt)}` : '—' }),
    h('td', { text: c.revokedBy ? `${c.revokedBy}, ${when(c.revokedAt)}` : '' }),
    h('td.actions', {},
      c.status === 'VALID' ? h('a', { href: `/admin/vpn/clients/${enc(c.name)}/profile`, download: `${c.name}.ovpn`, text: 'Download .ovpn' }) : '',
      c.status === 'VALID' ? h('button.secondary', { type: 'button', text: 'Link', 'aria-label': `One-time link for ${c.name}`, onclick: makeLink(c) }) : '',
      c.status === 'VALID' || c.status === 'EXPIRED' ? h('button.secondary', { type: 'button', text: 'Renew', 'aria-label': `Renew ${c.name}`, onclick: (e) => confirmThen(e.currentTarget,
        { question: `Renew ${c.name}?`, detail: 'A new certificate under the same name; the current profile stops working and a new one must be downloaded.', confirmLabel: 'Renew',
          busy: 'Renewing…', done: `${c.name} renewed: download the new profile.`, failed: `Could not renew ${c.name}` },
        () => api('POST', `/admin/vpn/clients/${enc(c.name)}/renew`)) }) : '',
      c.status === 'VALID' ? h('button.danger', { type: 'button', text: 'Revoke', onclick: (e) => confirmThen(e.currentTarget,
        { question: `Revoke ${c.name}?`, detail: 'Their profile stops working at once; this cannot be undone.', confirmLabel: 'Revoke',
          busy: 'Revoking…', done: `${c.name} revoked.`, failed: `Could not revoke ${c.name}` },
        () => api('DELETE', `/admin/vpn/clients/${enc(c.name)}`)) }) : '')));
  const auditRows = audit.slice(0, 50).map((a) => h('tr', {},
    h('td', { text: when(a.at) }), h('td', { text: a.actor }), h('td', { text: a.action }), h('td', { text: a.clientName || '' }), h('td', {}, tag(a.outcome)), h('td.muted', { text: a.detail || '' })));
  const statusText = status.error
    ? `Unavailable: ${status.error}`
    : `Runner ${status.runner} · CRL next update ${when(status.crlNextUpdate)} · ${status.valid} valid, ${status.revoked} revoked, ${status.expired} expired`;
  return [
    h('section', {}, h('h2', { text: 'VPN clients' }), h('p.muted#vpn-status', { text: statusText }), create, h('br'), linkCard,
      table(['Name', 'Owner', 'Status', 'Expires', 'Created', 'Revoked', ''], rows)),
    connected,
    h('section', {}, h('h2', { text: 'Audit log' }), table(['When', 'Who', 'Action', 'Client', 'Outcome', 'Detail'], auditRows)),
  ];
}

const bytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);

/** Who is connected now (the OpenVPN management interface), refreshed every 5 s while it is on screen. */
async function connectionsSection({ api, h, flash, ask, when, table }) {
  const body = h('div#vpn-connections');
  const section = h('section', {}, h('h2', { text: 'Connected now' }), body);
  const disconnect = (c) => async (e) => {
    const button = e.currentTarget;
    if (!(await ask(`Disconnect ${c.name}?`, 'OpenVPN tells the client to stop. It can connect again unless its certificate is revoked.', 'Disconnect'))) return;
    button.disabled = true;
    try {
      await api('DELETE', `/admin/vpn/connections/${enc(c.name)}`);
      flash(`${c.name} disconnected.`);
    } catch (err) {
      flash(`Could not disconnect ${c.name}: ${err.message}`, true);
    }
    await refresh();
  };
  const refresh = async () => {
    let list;
    try {
      list = await api('GET', '/admin/vpn/connections');
    } catch (err) {
      body.replaceChildren(h('p.muted#vpn-connections-unavailable', { text: `Unavailable: ${err.message}` }));
      return;
    }
    const rows = list.map((c) => h('tr', { 'data-connection': c.name },
      h('td', { text: c.name }), h('td', { text: c.realAddress }), h('td', { text: c.vpnAddress }),
      h('td', { text: bytes(c.bytesIn) }), h('td', { text: bytes(c.bytesOut) }), h('td', { text: when(c.connectedSince) }),
      h('td.actions', {}, h('button.danger', { type: 'button', text: 'Disconnect', 'aria-label': `Disconnect ${c.name}`, onclick: disconnect(c) }))));
    body.replaceChildren(list.length
      ? table(['Client', 'Real address', 'VPN address', 'In', 'Out', 'Since', ''], rows)
      : h('p.muted#vpn-no-connections', { text: 'No client is connected.' }));
  };
  await refresh();
  const timer = setInterval(() => (section.isConnected ? refresh() : clearInterval(timer)), 5000);
  return section;
}

/** The Users tab's way in: a link to the offboarding page of that user. */
export function offboardLink(h, u) {
  return h('a.button.danger', { href: `#offboard?id=${u.id}`, text: 'Offboard', 'aria-label': `Offboard ${u.username}` });
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `#offboard?id=N`: what will be taken away, one button, a confirmation, then the result item by item. */
export async function offboardView({ api, h, flash, ask, table, tag }) {
  const id = new URLSearchParams(location.hash.split('?')[1] || '').get('id') || '';
  if (!/^\d{1,10}$/.test(id)) return [h('section', {}, h('p.error', { text: 'No user chosen: open Offboard from the Users tab.' }))];
  const plan = await api('GET', `/admin/users/${id}/offboard`);
  const { username } = plan.user;
  const steps = [
    plan.user.isActive ? `Deactivate ${username}: no more logins, and their open chat sockets close now.` : `${username} is already inactive.`,
    'End every session they have (the Django site’s too).',
    plan.tokens ? `Revoke their ${plural(plan.tokens, 'API token')}.` : 'They have no API tokens.',
    plan.vpnClients.length ? `Revoke their VPN ${plan.vpnClients.length === 1 ? 'client' : 'clients'} ${plan.vpnClients.join(', ')} and disconnect them.` : 'They have no valid VPN clients.',
  ];
  const result = h('div#offboard-result');
  const button = h('button.danger#offboard-button', { type: 'button', text: `Offboard ${username}`, onclick: async () => {
    if (!(await ask(`Offboard ${username}?`, steps.join(' '), 'Offboard'))) return;
    button.disabled = true; button.textContent = 'Offboarding…'; button.setAttribute('aria-busy', 'true');
    try {
      const done = await api('POST', `/admin/users/${id}/offboard`);
      const failed = done.items.filter((i) => i.outcome === 'failed');
      flash(done.complete ? `${username} offboarded.` : `Offboarding ${username} is incomplete: ${plural(failed.length, 'item')} failed. Offboard again to retry them.`, !done.complete);
      result.replaceChildren(h('h3', { text: 'What was done' }), table(['Step', 'What', 'Outcome', 'Detail'],
        done.items.map((i) => h('tr', { 'data-step': `${i.step}${i.target ? `:${i.target}` : ''}` },
          h('td', { text: i.step }), h('td', { text: i.target || '' }), h('td', {}, tag(i.outcome)), h('td.muted', { text: i.detail })))));
    } catch (err) {
      flash(`Could not offboard ${username}: ${err.message}`, true);
    } finally {
      button.disabled = false; button.textContent = `Offboard ${username}`; button.removeAttribute('aria-busy');
    }
  } });
  return [h('section#offboard', {}, h('h2', { text: `Offboard ${username}` }),
    h('p.muted', { text: 'Takes away everything this person had, in one step. Each item is reported; whatever fails can be retried with the same button.' }),
    h('ul#offboard-plan', {}, ...steps.map((s) => h('li', { text: s }))), h('p', {}, button), result)];
}
