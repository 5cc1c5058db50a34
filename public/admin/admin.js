// The staff console: every action goes through the REST API (same CSRF and staff rules as any
// client). Plain DOM building with textContent only: nothing a user typed is parsed as HTML.
import { twoFactorTab } from './two-factor.js';
import { chatRoomsTab } from './chat-rooms.js';
import { tokensTab } from './tokens.js';
import { offboardLink, offboardView, vpnTab as vpnClientsTab } from './vpn.js';

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
  if (!res.ok) {
    const messages = data && data.message !== undefined ? [].concat(data.message) : [`HTTP ${res.status}`];
    // err.messages keeps them apart (the password validators' reasons, one per line in a form).
    throw Object.assign(new Error(messages.join('; ')), { messages });
  }
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
/** On a phone each row becomes a card whose cells carry their column's name (data-label, admin.css). */
const table = (headers, rows) => {
  for (const row of rows) [...row.children].forEach((cell, i) => { if (headers[i]) cell.dataset.label = headers[i]; });
  return h('table.cards', {}, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { text: t })))), h('tbody', {}, rows));
};

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// ---------- Users
// Who may do what (the server decides; the console only shows what the viewer may do): superusers
// manage everyone, other staff manage ordinary users; nobody deactivates, demotes or deletes themselves.
let viewer = null;
const whoAmI = async () => (viewer ??= await api('GET', '/auth/me'));
const isStaffAccount = (u) => u.isStaff || u.isSuperuser;
const mayManage = (me, u) => u.id === me.id || me.isSuperuser || !isStaffAccount(u);

/** Error messages as sentences: each ends with a full stop, joined by spaces. */
const sentences = (messages) => messages.map((m) => (/[.!?]$/.test(m) ? m : `${m}.`)).join(' ');
const errorMessages = (err) => err.messages || [err.message];

/**
 * Runs one user action: its button disabled and saying what it does meanwhile, then a sentence for
 * the outcome ("User alice created." / "Could not create user alice: …"). Re-renders after a success;
 * after a failure the form keeps what was typed. Returns whether it worked.
 */
async function perform({ button, busy, done, failed }, fn) {
  const label = button?.textContent;
  if (button) { button.disabled = true; button.textContent = busy; button.setAttribute('aria-busy', 'true'); }
  try {
    await fn();
  } catch (err) {
    flash(`${failed}: ${sentences(errorMessages(err))}`, true);
    return false;
  } finally {
    if (button?.isConnected) { button.disabled = false; button.textContent = label; button.removeAttribute('aria-busy'); }
  }
  flash(done);
  await render();
  return true;
}

/** A modal dialog in the page (a screenshot shows it, unlike window.confirm); resolves true on confirm. */
function ask(question, detail, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h('dialog#confirm-dialog.dialog', { 'aria-labelledby': 'confirm-question' },
      h('form', { method: 'dialog' },
        h('p#confirm-question.question', { text: question }), h('p.muted', { text: detail }),
        h('p.buttons', {},
          h('button.secondary', { type: 'submit', value: 'cancel', text: 'Cancel' }),
          h('button.danger', { type: 'submit', value: 'confirm', text: confirmLabel }))));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'confirm'); });
    document.body.append(dialog);
    dialog.showModal();
    dialog.querySelector('button.secondary').focus();
  });
}

/** Asks, then performs: for deactivating, removing staff or superuser status, deleting. */
async function confirmThen(button, { question, detail, confirmLabel, busy, done, failed }, fn) {
  if (await ask(question, detail, confirmLabel)) await perform({ button, busy, done, failed }, fn);
}

/** Django's SetPasswordForm: new password twice; the validators' messages shown in the form. */
function passwordDialog(u, me) {
  const own = u.id === me.id;
  const errors = h('ul#password-errors.error', { role: 'alert', hidden: true });
  const show = (messages) => { errors.replaceChildren(...messages.map((m) => h('li', { text: m }))); errors.hidden = messages.length === 0; };
  const submit = h('button', { type: 'submit', text: 'Set password' });
  const dialog = h('dialog#password-dialog.dialog', { 'aria-labelledby': 'password-title' });
  const form = h('form#password-form', { onsubmit: async (e) => {
      e.preventDefault();
      const { password, confirmation } = formValues(e.target);
      if (password !== confirmation) return show(['The two password fields didn’t match.']);
      show([]);
      submit.disabled = true; submit.textContent = 'Setting password…'; submit.setAttribute('aria-busy', 'true');
      try {
        await api('PATCH', `/admin/users/${u.id}`, { password });
      } catch (err) {
        show(errorMessages(err));
        return;
      } finally {
        submit.disabled = false; submit.textContent = 'Set password'; submit.removeAttribute('aria-busy');
      }
      dialog.close();
      if (own) return location.reload(); // a new password ends one's own sessions too
      flash(`Password set for ${u.username}. Their sessions have ended.`);
      await render();
    } },
    h('h2#password-title', { text: own ? 'Change your password' : `Set a password for ${u.username}` }),
    h('label', {}, 'New password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', maxlength: 4096 })),
    h('label', {}, 'New password again', h('input', { name: 'confirmation', type: 'password', required: true, autocomplete: 'new-password', maxlength: 4096 })),
    h('p.muted', { text: 'At least 8 characters, not entirely numeric, not a common password, not like the name or email.' }),
    errors,
    h('p.buttons', {}, h('button.secondary', { type: 'button', text: 'Cancel', onclick: () => dialog.close() }), submit));
  dialog.append(form);
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

function userActions(u, me) {
  const own = u.id === me.id;
  const patch = (body) => () => api('PATCH', `/admin/users/${u.id}`, body);
  const actions = [];
  if (mayManage(me, u)) {
    actions.push(h('button.secondary', { type: 'button', text: 'Edit', onclick: () => editUser(u) }));
    actions.push(h('button.secondary', { type: 'button', text: own ? 'Change password' : 'Set password', onclick: () => passwordDialog(u, me) }));
  }
  if (me.isSuperuser && !own) {
    actions.push(u.isStaff
      ? h('button.secondary', { type: 'button', text: 'Remove staff', onclick: (e) => confirmThen(e.currentTarget,
          { question: `Remove ${u.username}'s staff status?`, detail: 'They will no longer reach this console.', confirmLabel: 'Remove staff',
            busy: 'Removing…', done: `${u.username} is no longer staff.`, failed: `Could not remove ${u.username}'s staff status` }, patch({ isStaff: false })) })
      : h('button.secondary', { type: 'button', text: 'Make staff', onclick: (e) => perform({ button: e.currentTarget, busy: 'Saving…',
          done: `${u.username} is now staff.`, failed: `Could not make ${u.username} staff` }, patch({ isStaff: true })) }));
    actions.push(u.isSuperuser
      ? h('button.secondary', { type: 'button', text: 'Remove superuser', onclick: (e) => confirmThen(e.currentTarget,
          { question: `Remove ${u.username}'s superuser status?`, detail: 'They keep what staff may do, nothing more.', confirmLabel: 'Remove superuser',
            busy: 'Removing…', done: `${u.username} is no longer a superuser.`, failed: `Could not remove ${u.username}'s superuser status` }, patch({ isSuperuser: false })) })
      : h('button.secondary', { type: 'button', text: 'Make superuser', onclick: (e) => perform({ button: e.currentTarget, busy: 'Saving…',
          done: `${u.username} is now a superuser.`, failed: `Could not make ${u.username} a superuser` }, patch({ isSuperuser: true, isStaff: true })) }));
  }
  if (mayManage(me, u) && !own) {
    actions.push(u.isActive
      ? h('button.danger', { type: 'button', text: 'Deactivate', onclick: (e) => confirmThen(e.currentTarget,
          { question: `Deactivate ${u.username}?`, detail: 'They are logged out everywhere and cannot log in until activated again.', confirmLabel: 'Deactivate',
            busy: 'Deactivating…', done: `${u.username} deactivated.`, failed: `Could not deactivate ${u.username}` }, patch({ isActive: false })) })
      : h('button', { type: 'button', text: 'Activate', onclick: (e) => perform({ button: e.currentTarget, busy: 'Activating…',
          done: `${u.username} activated.`, failed: `Could not activate ${u.username}` }, patch({ isActive: true })) }));
    actions.push(h('button.danger', { type: 'button', text: 'Delete', onclick: (e) => confirmThen(e.currentTarget,
      { question: `Delete ${u.username}?`, detail: 'The account is removed for good; deactivating keeps it.', confirmLabel: 'Delete',
        busy: 'Deleting…', done: `${u.username} deleted.`, failed: `Could not delete ${u.username}` }, () => api('DELETE', `/admin/users/${u.id}`)) }));
    actions.push(offboardLink(h, u));
  }
  return actions;
}

async function usersTab() {
  const me = await whoAmI();
  const search = new URLSearchParams(location.hash.split('?')[1] || '').get('q') || '';
  const { results, count } = await api('GET', `/admin/users?limit=200${search ? `&search=${encodeURIComponent(search)}` : ''}`);
  const searchForm = h('form.inline', { role: 'search', onsubmit: (e) => { e.preventDefault(); location.hash = `#users?q=${encodeURIComponent(formValues(e.target).q)}`; } },
    h('input', { name: 'q', value: search, placeholder: 'search users', 'aria-label': 'Search users' }), h('button', { type: 'submit', text: 'Search' }));
  const createError = h('p#create-user-error.error', { role: 'alert', hidden: true });
  const create = h('form.inline#create-user', { onsubmit: (e) => { e.preventDefault(); const v = formValues(e.target);
      createError.hidden = true;
      if (v.password !== v.confirmation) { createError.textContent = 'The two password fields didn’t match.'; createError.hidden = false; return; }
      perform({ button: e.submitter, busy: 'Creating…', done: `User ${v.username} created.`, failed: `Could not create user ${v.username}` },
        () => api('POST', '/admin/users', { username: v.username, password: v.password || undefined, email: v.email, firstName: v.firstName, lastName: v.lastName, isStaff: v.isStaff === 'on' || undefined })); } },
    h('input', { name: 'username', placeholder: 'username', required: true, 'aria-label': 'Username', maxlength: 150 }),
    h('input', { name: 'password', type: 'password', placeholder: 'password', 'aria-label': 'Password', autocomplete: 'new-password' }),
    h('input', { name: 'confirmation', type: 'password', placeholder: 'password again', 'aria-label': 'Password again', autocomplete: 'new-password' }),
    h('input', { name: 'firstName', placeholder: 'first name', 'aria-label': 'First name' }),
    h('input', { name: 'lastName', placeholder: 'last name', 'aria-label': 'Last name' }),
    h('input', { name: 'email', type: 'email', placeholder: 'email', 'aria-label': 'Email' }),
    me.isSuperuser ? h('label', {}, h('input', { name: 'isStaff', type: 'checkbox' }), ' staff') : null,
    h('button', { type: 'submit', text: 'Create user' }));
  const rows = results.map((u) => h('tr', { 'data-username': u.username, 'data-own': u.id === me.id ? 'true' : undefined },
    h('td', {}, h('strong', { text: u.username }), u.id === me.id ? h('span.muted', { text: ' (you)' }) : ''), h('td', { text: u.fullName }), h('td', { text: u.email }),
    h('td', {}, u.isStaff ? tag('staff') : '', u.isSuperuser ? tag('superuser') : ''),
    h('td', {}, tag(u.isActive ? 'active' : 'inactive')), h('td', { text: when(u.lastLogin) }),
    h('td.actions', {}, userActions(u, me))));
  return [h('section', {}, h('h2', { text: `Users (${count})` }), searchForm, h('br'), table(['Username', 'Name', 'Email', 'Flags', 'Status', 'Last login', ''], rows)),
    h('section', {}, h('h2', { text: 'New user' }),
      h('p.muted', { text: 'Without a password the account cannot log in until one is set.' }), create, createError)];
}

function editUser(u) {
  const form = h('form.inline#edit-user', { onsubmit: (e) => { e.preventDefault(); const v = formValues(e.target);
      perform({ button: e.submitter, busy: 'Saving…', done: `${u.username} saved.`, failed: `Could not save ${u.username}` },
        () => api('PATCH', `/admin/users/${u.id}`, { firstName: v.firstName, lastName: v.lastName, email: v.email })); } },
    h('input', { name: 'firstName', value: u.firstName, 'aria-label': 'First name' }),
    h('input', { name: 'lastName', value: u.lastName, 'aria-label': 'Last name' }),
    h('input', { name: 'email', type: 'email', value: u.email, 'aria-label': 'Email' }),
    h('button', { type: 'submit', text: 'Save' }), h('button.secondary', { type: 'button', text: 'Cancel', onclick: () => render() }));
  view.prepend(h('section', {}, h('h2', { text: `Edit ${u.username}` }), form));
  form.querySelector('input').focus();
}

// ---------- Certificates
async function certsTab() {
  const { certificates, schedule, warnFraction, warnDays, staging, checkAddress } = await api('GET', '/admin/certs');
  const runs = await api('GET', '/admin/certs/runs?limit=15');
  const progress = h('p#renew-progress.muted', { role: 'status' });
  const renewButton = h('button#renew', { type: 'button', text: 'Renew now', onclick: () => startRun(progress, renewButton, 'Renewing…', () => api('POST', '/admin/certs/renew', {})) });
  const checkButton = h('button#check-served.secondary', { type: 'button', text: 'Check served certificates',
    onclick: () => perform({ button: checkButton, busy: 'Checking…', done: 'Served certificates checked.', failed: 'Could not check the served certificates' },
      () => api('POST', '/admin/certs/check', {})) });
  const obtain = h('form.inline#obtain', { onsubmit: (e) => { e.preventDefault(); const v = formValues(e.target);
      startRun(progress, e.submitter, 'Obtaining…', () => api('POST', '/admin/certs', { domains: v.domains.split(/[\s,]+/).filter(Boolean), email: v.email || undefined, staging: v.staging === 'on' })); } },
    h('input', { name: 'domains', placeholder: 'example.org www.example.org', required: true, 'aria-label': 'Domains', size: 32 }),
    h('input', { name: 'email', type: 'email', placeholder: 'account email (optional)', 'aria-label': 'Email' }),
    h('label.check', {}, h('input', { name: 'staging', type: 'checkbox', checked: staging }), ' Staging (test certificate, spares the rate limits)'),
    h('button', { type: 'submit', text: 'Obtain certificate' }));
  const served = (d) => (d.status === 'unchecked' ? tag('unchecked')
    : h('span', {}, tag(d.status), d.detail.filter((x) => !x.matches).map((x) => h('div.muted', { text: `${x.domain}: ${x.served ? `serves serial ${x.served}` : x.error}` }))));
  const certRows = certificates.map((c) => h('tr.' + c.status, { 'data-cert': c.name },
    h('td', { text: c.name }), h('td', { text: c.domains.join(', ') }), h('td', { text: when(c.notAfter) }),
    h('td', { text: `${c.daysLeft} of ${Math.round(c.lifetimeDays)}` }), h('td', {}, tag(c.status), c.staging ? tag('staging') : ''),
    h('td', {}, served(c.deployment)), h('td.muted', { text: c.issuer })));
  const runRows = runs.map((r) => h('tr', { 'data-run': r.id },
    h('td', { text: `#${r.id}` }), h('td', { text: r.kind }), h('td', { text: `${r.trigger}${r.requestedBy ? ' · ' + r.requestedBy : ''}` }),
    h('td', { text: when(r.startedAt) }), h('td', {}, tag(r.outcome)),
    h('td', {}, r.reason || [].concat(r.renewed).join(', '), r.outputTail ? h('details', {}, h('summary', { text: 'output' }), h('pre', { text: r.outputTail })) : '')));
  const threshold = `expiring below ${Math.round(warnFraction * 100)} % of a certificate’s lifetime${warnDays ? ` or ${warnDays} days` : ''}`;
  const checking = checkAddress === 'off' ? 'served-certificate check off' : `served certificates checked at ${checkAddress || 'each domain on port 443'}`;
  return [
    h('section', {}, h('h2', { text: 'Certificates' }),
      h('p.muted', { text: `Renewal schedule: ${schedule || 'off'} · ${threshold} · ${checking}${staging ? ' · new certificates from Let’s Encrypt staging' : ''}` }),
      certificates.length ? table(['Name', 'Domains', 'Expires', 'Days left', 'Status', 'Served', 'Issuer'], certRows)
        : h('p.muted#no-certs', { text: 'No certificates yet. Obtain the first one below: put the domains this server answers for (their DNS pointing here, port 80 reaching live), and tick Staging for a first try, so a mistake does not use up Let’s Encrypt’s rate limits.' }),
      h('p', {}, renewButton, ' ', certificates.length ? checkButton : ''), progress),
    h('section', {}, h('h2', { text: 'Obtain a certificate' }), obtain),
    h('section', {}, h('h2', { text: 'Recent runs' }), table(['Run', 'Kind', 'Trigger', 'Started', 'Outcome', 'Detail'], runRows)),
  ];
}

/** Starts a certbot run and shows its progress until it ends; its button says so meanwhile. */
async function startRun(progress, button, busy, start) {
  button.disabled = true;
  button.textContent = busy;
  button.setAttribute('aria-busy', 'true');
  try {
    const { runId } = await start();
    const began = Date.now();
    for (;;) {
      const run = await api('GET', `/admin/certs/runs/${runId}`);
      if (run.outcome !== 'running') {
        flash(`Run #${runId} ended: ${run.outcome}.${run.reason ? ` ${sentences([run.reason])}` : ''}`, run.outcome === 'failed');
        break;
      }
      progress.textContent = `Run #${runId} running… ${Math.round((Date.now() - began) / 1000)} s`;
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (err) {
    flash(`Could not start the certificate run: ${sentences(errorMessages(err))}`, true);
  }
  await render();
}

// ---------- VPN and offboarding (public/admin/vpn.js)
const vpnTab = () => vpnClientsTab({ api, h, flash, perform, confirmThen, ask, table, when, tag, formValues });

// ---------- Alerts
async function alertsTab() {
  const { alerts } = await api('GET', '/admin/alerts?limit=100');
  const test = h('button', { type: 'button', text: 'Send a test alert', onclick: (e) => perform({ button: e.currentTarget, busy: 'Sending…',
    done: 'Test alert sent.', failed: 'Could not send a test alert' }, () => api('POST', '/admin/alerts/test')) });
  const rows = alerts.map((a) => h('tr', {}, h('td', { text: when(a.createdAt) }), h('td', { text: a.event }), h('td', {}, tag(a.severity)),
    h('td', { text: a.subject }), h('td', { text: a.channel }), h('td', {}, tag(a.outcome)), h('td.muted', { text: a.error || '' })));
  return [h('section', {}, h('h2', { text: 'Alerts' }), h('p', {}, test), table(['When', 'Event', 'Severity', 'Subject', 'Channel', 'Outcome', 'Error'], rows))];
}

// ---------- Chat: active rooms, room rules and moderation (public/admin/chat-rooms.js)
const chatTab = () => chatRoomsTab({ api, h, flash, render, perform, ask, table, when, tag, formValues });

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
TABS.offboard = () => offboardView({ api, h, flash, ask, table, tag });

// ---------- API tokens (public/admin/tokens.js)
TABS.tokens = () => tokensTab({ api, h, render, perform, ask, table, when, tag, formValues, flash });

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
