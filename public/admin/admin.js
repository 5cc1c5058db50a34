// The staff console: every action goes through the REST API (same CSRF and staff rules as any
// client). Plain DOM building with textContent only: nothing a user typed is parsed as HTML.
import { twoFactorTab } from './two-factor.js';

const view = document.getElementById('view');
const flashEl = document.getElementById('flash');

const cookie = (name) =>
  decodeURIComponent((document.cookie.split('; ').find((c) => c.startsWith(name + '=')) || '').slice(name.length + 1));

// The CSRF cookie's name is the server's CSRF_COOKIE_NAME: GET /auth/csrf says it (and sets the
// cookie). The cookie is read before each request, since a login (in any tab) rotates the token.
let csrfCookieName = null;

async function csrfToken() {
  const current = csrfCookieName && cookie(csrfCookieName);
  if (current) return current;
  const data = await (await fetch('/auth/csrf', { credentials: 'same-origin' })).json();
  csrfCookieName = data.cookieName;
  return data.csrfToken;
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['X-CSRFToken'] = await csrfToken();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (res.status === 401) location.reload();
  if (!res.ok) throw new Error((data && [].concat(data.message).join('; ')) || `HTTP ${res.status}`);
  return data;
}

function flash(text, bad = false) {
  flashEl.textContent = text;
  flashEl.className = bad ? 'flash bad' : 'flash';
  flashEl.hidden = !text;
}

/** h('tag#id.class', {attrs}, ...children): children are nodes or text. */
function h(spec, attrs = {}, ...children) {
  // 'tag#id.class1.class2'
  const [, tag, rest] = /^([a-z0-9]+)(.*)$/.exec(spec);
  const el = document.createElement(tag);
  const id = /#([\w-]+)/.exec(rest);
  if (id) el.id = id[1];
  const classes = [...rest.matchAll(/\.([\w-]+)/g)].map((m) => m[1]);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

const tag = (value) => h('span.tag.' + String(value).replace(/[^\w-]/g, ''), { text: value });
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');
const table = (headers, rows) => h('table', {}, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { text: t })))), h('tbody', {}, rows));

/** Runs an action, reports its outcome, re-renders the tab. */
async function act(label, fn) {
  try {
    await fn();
    flash(label);
  } catch (err) {
    flash(`${label} failed: ${err.message}`, true);
  }
  await render();
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// ---------- Users
async function usersTab() {
  const search = new URLSearchParams(location.hash.split('?')[1] || '').get('q') || '';
  const { results, count } = await api('GET', `/admin/users?limit=200${search ? `&search=${encodeURIComponent(search)}` : ''}`);
  const searchForm = h('form.inline', { role: 'search', onsubmit: (e) => { e.preventDefault(); location.hash = `#users?q=${encodeURIComponent(formValues(e.target).q)}`; } },
    h('input', { name: 'q', value: search, placeholder: 'search users', 'aria-label': 'Search users' }), h('button', { type: 'submit', text: 'Search' }));
  const create = h('form.inline#create-user', { onsubmit: (e) => { e.preventDefault(); const v = formValues(e.target);
      act(`User ${v.username} created`, () => api('POST', '/admin/users', { username: v.username, password: v.password || undefined, email: v.email, firstName: v.firstName, lastName: v.lastName, isStaff: v.isStaff === 'on' })); } },
    h('input', { name: 'username', placeholder: 'username', required: true, 'aria-label': 'Username' }),
    h('input', { name: 'password', type: 'password', placeholder: 'password', 'aria-label': 'Password', autocomplete: 'new-password' }),
    h('input', { name: 'firstName', placeholder: 'first name', 'aria-label': 'First name' }),
    h('input', { name: 'lastName', placeholder: 'last name', 'aria-label': 'Last name' }),
    h('input', { name: 'email', type: 'email', placeholder: 'email', 'aria-label': 'Email' }),
    h('label', {}, h('input', { name: 'isStaff', type: 'checkbox' }), ' staff'),
    h('button', { type: 'submit', text: 'Create user' }));
  const rows = results.map((u) => h('tr', { 'data-username': u.username },
    h('td', { text: u.username }), h('td', { text: u.fullName }), h('td', { text: u.email }),
    h('td', {}, u.isStaff ? tag('staff') : '', u.isSuperuser ? tag('superuser') : ''),
    h('td', {}, tag(u.isActive ? 'active' : 'inactive')), h('td', { text: when(u.lastLogin) }),
    h('td.actions', {},
      h('button.secondary', { type: 'button', text: 'Edit', onclick: () => editUser(u) }),
      h('button.secondary', { type: 'button', text: 'Set password', onclick: () => { const p = prompt(`New password for ${u.username}`); if (p) act(`Password set for ${u.username}`, () => api('PATCH', `/admin/users/${u.id}`, { password: p })); } }),
      h('button.secondary', { type: 'button', text: u.isStaff ? 'Remove staff' : 'Make staff', onclick: () => act(`${u.username} updated`, () => api('PATCH', `/admin/users/${u.id}`, { isStaff: !u.isStaff })) }),
      h(u.isActive ? 'button.danger' : 'button', { type: 'button', text: u.isActive ? 'Deactivate' : 'Activate', onclick: () => act(`${u.username} ${u.isActive ? 'deactivated' : 'activated'}`, () => api('PATCH', `/admin/users/${u.id}`, { isActive: !u.isActive })) }))));
  return [h('section', {}, h('h2', { text: `Users (${count})` }), searchForm, h('br'), table(['Username', 'Name', 'Email', 'Flags', 'Status', 'Last login', ''], rows)),
    h('section', {}, h('h2', { text: 'New user' }), create)];
}

function editUser(u) {
  const form = h('form.inline', { onsubmit: (e) => { e.preventDefault(); const v = formValues(e.target);
      act(`${u.username} saved`, () => api('PATCH', `/admin/users/${u.id}`, { firstName: v.firstName, lastName: v.lastName, email: v.email })); } },
    h('input', { name: 'firstName', value: u.firstName, 'aria-label': 'First name' }),
    h('input', { name: 'lastName', value: u.lastName, 'aria-label': 'Last name' }),
    h('input', { name: 'email', type: 'email', value: u.email, 'aria-label': 'Email' }),
    h('button', { type: 'submit', text: 'Save' }), h('button.secondary', { type: 'button', text: 'Cancel', onclick: () => render() }));
  view.prepend(h('section', {}, h('h2', { text: `Edit ${u.username}` }), form));
}

// ---------- Certificates
async function certsTab() {
  const { certificates, schedule, warnDays, lastRuns } = await api('GET', '/admin/certs');
  const runs = await api('GET', '/admin/certs/runs?limit=15');
  const progress = h('p#renew-progress.muted', { role: 'status' });
  const renewButton = h('button#renew', { type: 'button', text: 'Renew now', onclick: () => startRun(progress, renewButton, () => api('POST', '/admin/certs/renew', {})) });
  const obtain = h('form.inline#obtain', { onsubmit: (e) => { e.preventDefault(); const v = formValues(e.target);
      startRun(progress, renewButton, () => api('POST', '/admin/certs', { domains: v.domains.split(/[\s,]+/).filter(Boolean), email: v.email || undefined })); } },
    h('input', { name: 'domains', placeholder: 'example.org www.example.org', required: true, 'aria-label': 'Domains', size: 32 }),
    h('input', { name: 'email', type: 'email', placeholder: 'account email (optional)', 'aria-label': 'Email' }),
    h('button', { type: 'submit', text: 'Obtain certificate' }));
  const certRows = certificates.map((c) => h('tr.' + c.status, {},
    h('td', { text: c.name }), h('td', { text: c.domains.join(', ') }), h('td', { text: when(c.notAfter) }),
    h('td', { text: String(c.daysLeft) }), h('td', {}, tag(c.status)), h('td.muted', { text: c.issuer })));
  const runRows = runs.map((r) => h('tr', { 'data-run': r.id },
    h('td', { text: `#${r.id}` }), h('td', { text: r.kind }), h('td', { text: `${r.trigger}${r.requestedBy ? ' · ' + r.requestedBy : ''}` }),
    h('td', { text: when(r.startedAt) }), h('td', {}, tag(r.outcome)),
    h('td', {}, r.reason || [].concat(r.renewed).join(', '), r.outputTail ? h('details', {}, h('summary', { text: 'output' }), h('pre', { text: r.outputTail })) : '')));
  void lastRuns;
  return [
    h('section', {}, h('h2', { text: 'Certificates' }),
      h('p.muted', { text: `Renewal schedule: ${schedule || 'off'} · expiring below ${warnDays} days` }),
      certificates.length ? table(['Name', 'Domains', 'Expires', 'Days left', 'Status', 'Issuer'], certRows) : h('p.muted', { text: 'No certificates yet.' }),
      h('p', {}, renewButton), progress),
    h('section', {}, h('h2', { text: 'Obtain a certificate' }), obtain),
    h('section', {}, h('h2', { text: 'Recent runs' }), table(['Run', 'Kind', 'Trigger', 'Started', 'Outcome', 'Detail'], runRows)),
  ];
}

/** Starts a certbot run and shows its progress until it ends. */
async function startRun(progress, button, start) {
  button.disabled = true;
  try {
    const { runId } = await start();
    const began = Date.now();
    for (;;) {
      const run = await api('GET', `/admin/certs/runs/${runId}`);
      if (run.outcome !== 'running') {
        flash(`Run #${runId} ended: ${run.outcome}${run.reason ? ` — ${run.reason}` : ''}`, run.outcome === 'failed');
        break;
      }
      progress.textContent = `Run #${runId} running… ${Math.round((Date.now() - began) / 1000)} s`;
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (err) {
    flash(err.message, true);
  }
  await render();
}

// ---------- VPN
async function vpnTab() {
  const [status, clients, audit] = await Promise.all([
    api('GET', '/admin/vpn/status').catch((err) => ({ error: err.message })),
    api('GET', '/admin/vpn/clients').catch(() => []),
    api('GET', '/admin/vpn/audit').catch(() => []),
  ]);
  const create = h('form.inline#create-vpn', { onsubmit: (e) => { e.preventDefault(); const { name } = formValues(e.target);
      act(`VPN client ${name} created`, () => api('POST', '/admin/vpn/clients', { name })); } },
    h('input', { name: 'name', placeholder: 'client name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}', 'aria-label': 'Client name' }),
    h('button', { type: 'submit', text: 'Create client' }));
  const rows = clients.map((c) => h('tr', { 'data-client': c.name },
    h('td', { text: c.name }), h('td', {}, tag(c.status)), h('td', { text: when(c.notAfter) }),
    h('td', { text: c.createdBy ? `${c.createdBy}, ${when(c.createdAt)}` : '—' }),
    h('td', { text: c.revokedBy ? `${c.revokedBy}, ${when(c.revokedAt)}` : '' }),
    h('td.actions', {},
      c.status === 'VALID' ? h('a', { href: `/admin/vpn/clients/${encodeURIComponent(c.name)}/profile`, download: `${c.name}.ovpn`, text: 'Download .ovpn' }) : '',
      c.status === 'VALID' ? h('button.danger', { type: 'button', text: 'Revoke', onclick: () => { if (confirm(`Revoke ${c.name}? Their profile stops working.`)) act(`${c.name} revoked`, () => api('DELETE', `/admin/vpn/clients/${encodeURIComponent(c.name)}`)); } }) : '')));
  const auditRows = audit.slice(0, 50).map((a) => h('tr', {},
    h('td', { text: when(a.at) }), h('td', { text: a.actor }), h('td', { text: a.action }), h('td', { text: a.clientName || '' }), h('td', {}, tag(a.outcome)), h('td.muted', { text: a.detail || '' })));
  const statusText = status.error
    ? `Unavailable: ${status.error}`
    : `Runner ${status.runner} · CRL next update ${when(status.crlNextUpdate)} · ${status.valid} valid, ${status.revoked} revoked, ${status.expired} expired`;
  return [
    h('section', {}, h('h2', { text: 'VPN clients' }), h('p.muted#vpn-status', { text: statusText }), create, h('br'),
      table(['Name', 'Status', 'Expires', 'Created', 'Revoked', ''], rows)),
    h('section', {}, h('h2', { text: 'Audit log' }), table(['When', 'Who', 'Action', 'Client', 'Outcome', 'Detail'], auditRows)),
  ];
}

// ---------- Alerts
async function alertsTab() {
  const { alerts } = await api('GET', '/admin/alerts?limit=100');
  const test = h('button', { type: 'button', text: 'Send a test alert', onclick: () => act('Test alert sent', () => api('POST', '/admin/alerts/test')) });
  const rows = alerts.map((a) => h('tr', {}, h('td', { text: when(a.createdAt) }), h('td', { text: a.event }), h('td', {}, tag(a.severity)),
    h('td', { text: a.subject }), h('td', { text: a.channel }), h('td', {}, tag(a.outcome)), h('td.muted', { text: a.error || '' })));
  return [h('section', {}, h('h2', { text: 'Alerts' }), h('p', {}, test), table(['When', 'Event', 'Severity', 'Subject', 'Channel', 'Outcome', 'Error'], rows))];
}

// ---------- Chat
async function chatTab() {
  const rooms = await api('GET', '/chat/rooms');
  const room = new URLSearchParams(location.hash.split('?')[1] || '').get('room');
  const sections = [h('section', {}, h('h2', { text: 'Active rooms' }),
    rooms.length ? table(['Room', 'Members'], rooms.map((r) => h('tr', {}, h('td', {}, h('a', { href: `#chat?room=${encodeURIComponent(r.room)}`, text: r.room })), h('td', { text: String(r.members) }))))
      : h('p.muted', { text: 'No one is chatting right now.' }))];
  if (room) {
    const { messages } = await api('GET', `/chat/rooms/${encodeURIComponent(room)}/messages?limit=30`);
    sections.push(h('section', {}, h('h2', { text: `Recent messages in ${room}` }),
      table(['When', 'Who', 'Text'], messages.map((m) => h('tr', {}, h('td', { text: when(m.ts) }), h('td', { text: m.name }), h('td', { text: m.text }))))));
  }
  return sections;
}

const TABS = { users: usersTab, certs: certsTab, vpn: vpnTab, alerts: alertsTab, chat: chatTab };

// ---------- Lockouts (failed logins per username and address, and per address)
async function lockoutsTab() {
  const { lockouts, maxFailures, maxFailuresPerAddress, windowSeconds } = await api('GET', '/admin/lockouts');
  const who = (l) => (l.username === null ? `every username from ${l.address}` : `${l.username} from ${l.address}`);
  const unlock = async (button, label, query) => {
    button.disabled = true;
    button.textContent = 'Unlocking…';
    try {
      const { failuresCleared } = await api('DELETE', `/admin/lockouts?${new URLSearchParams(query)}`);
      flash(`Unlocked ${label}: ${failuresCleared} failed login${failuresCleared === 1 ? '' : 's'} cleared.`);
    } catch (err) {
      flash(`Could not unlock ${label}: ${err.message}`, true);
    }
    await render();
  };
  // Four narrow columns, so that the table fits a phone without scrolling sideways.
  const rows = lockouts.map((l) => h('tr', { 'data-lockout': `${l.username ?? '*'}@${l.address}` },
    h('td', {}, l.username === null ? tag('every username') : h('strong', { text: l.username }), ' from ', h('span', { text: l.address })),
    h('td', { text: String(l.failures), title: `last failure ${when(l.lastFailureAt)}` }), h('td', { text: when(l.lockedUntil) }),
    h('td.actions', {}, h('button', { type: 'button', text: 'Unlock', 'aria-label': `Unlock ${who(l)}`,
      onclick: (e) => unlock(e.currentTarget, who(l), l.username === null ? { address: l.address } : { username: l.username, address: l.address }) }))));
  const form = h('form.inline#unlock', { onsubmit: (e) => { e.preventDefault(); const v = formValues(e.target);
      const query = Object.fromEntries(Object.entries(v).filter(([, value]) => value.trim() !== ''));
      if (Object.keys(query).length === 0) return flash('Give a username, an address, or both to unlock.', true);
      unlock(e.submitter || e.target.querySelector('button'), Object.values(query).join(' from '), query); } },
    h('input', { name: 'username', placeholder: 'username', 'aria-label': 'Username', maxlength: 150 }),
    h('input', { name: 'address', placeholder: 'address', 'aria-label': 'Address', maxlength: 100 }),
    h('button', { type: 'submit', text: 'Unlock' }));
  return [
    h('section', {}, h('h2', { text: `Lockouts (${lockouts.length})` }),
      h('p.muted', { text: `A username is locked out from an address after ${maxFailures} failed logins within ${Math.round(windowSeconds / 60)} minutes, and a whole address after ${maxFailuresPerAddress}, whichever usernames they named.` }),
      lockouts.length ? table(['Locked out', 'Failures', 'Until', ''], rows) : h('p.muted#no-lockouts', { text: 'No one is locked out.' })),
    h('section', {}, h('h2', { text: 'Unlock a username or an address' }),
      h('p.muted', { text: 'Clears their failed logins, locked or not: a username from everywhere, an address for every username, or one username from one address.' }), form),
  ];
}
TABS.lockouts = lockoutsTab;

async function render() {
  const name = (location.hash.slice(1).split('?')[0] || 'users');
  const tab = TABS[name] ? name : 'users';
  for (const a of document.querySelectorAll('#tabs a')) a.setAttribute('aria-current', a.getAttribute('href') === `#${tab}` ? 'page' : 'false');
  try {
    view.replaceChildren(...(await TABS[tab]()));
    view.dataset.tab = tab;
  } catch (err) {
    view.replaceChildren(h('section', {}, h('p.error', { text: err.message })));
  }
}

// ---------- Two-factor (public/admin/two-factor.js)
TABS['two-factor'] = () => twoFactorTab({ api, h, flash, render });

document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/auth/logout').catch(() => undefined);
  location.reload();
});
window.addEventListener('hashchange', () => { flash(''); render(); });
render();
