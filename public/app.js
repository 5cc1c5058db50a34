// live's chat page: plain browser JavaScript, no framework. Speaks the live.v1 protocol and
// reconnects by itself with ?since=<last id> so a drop loses nothing and repeats nothing.

import { createModeration } from './moderation.js';

const ROOM_PATTERN = /^[-\p{L}\p{N}\p{M}_]{1,100}$/u;
const $ = (id) => document.getElementById(id);
const ANONYMOUS = 'Anonymous troll';

const state = {
  room: roomFromHash() || 'lobby',
  ws: null,
  lastId: 0,
  seen: new Set(),
  attempt: 0,
  reconnectTimer: null,
  welcomed: false,
  // Who this page is in the room (from the welcome), to tell its own messages from others'.
  myName: null,
  myUserId: null,
  /** Texts this page sent that have not come back yet: an anonymous visitor's own messages. */
  echoes: [],
  /** Texts typed while offline, sent once the server greets the next socket. */
  outbox: [],
  /** The oldest message shown, and whether the REST history has older ones. */
  oldestId: null,
  hasOlder: true,
  loadingOlder: false,
  /** Why the last socket closed, shown again after the reconnect (a logout is worth reading). */
  closedWhy: null,
};

function roomFromHash() {
  const room = decodeURIComponent(location.hash.slice(1));
  return ROOM_PATTERN.test(room) ? room : null;
}

function cookie(name) {
  const match = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
  return match ? decodeURIComponent(match.slice(name.length + 1)) : '';
}

function setStatus(kind, text) {
  const el = $('status');
  el.dataset.state = kind;
  el.textContent = text;
}

function notice(text) {
  const el = $('notice');
  el.textContent = text || '';
  el.hidden = !text;
}

function addLine(build) {
  const list = $('messages');
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const li = document.createElement('li');
  build(li);
  list.append(li);
  if (nearBottom) list.scrollTop = list.scrollHeight;
}

function systemLine(text) {
  addLine((li) => {
    li.className = 'system';
    li.textContent = text;
  });
}

function showMessage(m) {
  if (state.seen.has(m.id) || moderation.isDeleted(m.id)) return;
  state.seen.add(m.id);
  if (m.id > state.lastId) state.lastId = m.id;
  addLine((li) => {
    li.dataset.id = String(m.id);
    // A bot name is whatever its poster chose (staff or the room's moderators): say it is one, and
    // never mark it as the reader's own even when the reader's account posted it.
    if (m.bot) li.classList.add('bot');
    else if (isMine(m)) li.classList.add('mine');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = m.name;
    const signature = [name];
    if (m.bot) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'bot';
      badge.title = 'Posted by a program under this name';
      signature.push(badge);
    }
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = m.text;
    const time = document.createElement('time');
    time.className = 'time';
    time.dateTime = m.ts;
    time.textContent = new Date(m.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    li.append(...signature, text, time);
    moderation.decorate(li, m);
  });
}

/** Anonymous visitors share one name: how many there are tells them apart ("Anonymous troll ×3"). */
function showPresence(members, count, anonymous = 0) {
  const list = $('presence');
  list.replaceChildren(
    ...members.map((n) => {
      const li = document.createElement('li');
      li.textContent = n === ANONYMOUS && anonymous > 1 ? `${n} ×${anonymous}` : n;
      if (n === ANONYMOUS && anonymous > 0) li.className = 'anonymous';
      return li;
    }),
  );
  $('count').textContent = String(count);
}

function connect() {
  clearTimeout(state.reconnectTimer);
  $('reconnect').hidden = true;
  state.myName = null; // until this socket's welcome
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = state.lastId ? `?since=${state.lastId}` : '';
  const ws = new WebSocket(`${scheme}//${location.host}/chat/${encodeURIComponent(state.room)}/${query}`, 'live.v1');
  state.ws = ws;
  setStatus('connecting', 'connecting…');
  let opened = false;
  ws.onopen = () => {
    opened = true;
    state.attempt = 0;
    setStatus('open', `#${state.room}`);
    notice('');
  };
  ws.onmessage = (event) => {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    if (moderation.handle(frame)) return;
    if (frame.type === 'welcome') {
      // The server answered: the backoff starts over, and what was typed offline goes out.
      state.attempt = 0;
      state.myName = frame.name;
      state.myUserId = frame.user;
      flushOutbox();
      if (state.closedWhy) notice(state.closedWhy); // still worth reading once back
      state.closedWhy = null;
      if (!state.welcomed) systemLine(frame.text);
      else systemLine('Reconnected.');
      state.welcomed = true;
    } else if (frame.type === 'history') {
      frame.messages.forEach((m) => showMessage(m));
      noteOldest(frame.messages);
      if (frame.truncated) systemLine('Some older messages were skipped.');
    } else if (frame.type === 'message') {
      showMessage(frame);
    } else if (frame.type === 'presence') {
      showPresence(frame.members, frame.count, frame.anonymous);
    } else if (frame.type === 'error') {
      notice(frame.message);
    }
  };
  ws.onclose = (event) => {
    if (state.ws !== ws) return; // replaced on purpose (room change, login)
    if (moderation.closed(event, opened)) return; // kicked, banned, shut out: no automatic retry
    explainClose(event);
    const delay = Math.min(10_000, 500 * 2 ** state.attempt++) + Math.floor(Math.random() * 250);
    setStatus('closed', `disconnected, retrying in ${Math.ceil(delay / 1000)} s`);
    $('reconnect').hidden = false;
    state.reconnectTimer = setTimeout(connect, delay);
  };
}

/** Starts over in another room (or as another user): fresh socket, fresh history. */
function restart(room) {
  state.room = room;
  state.lastId = 0;
  state.seen.clear();
  state.welcomed = false;
  state.attempt = 0;
  state.oldestId = null;
  state.hasOlder = true;
  moderation.reset();
  $('messages').replaceChildren();
  showPresence([], 0);
  $('room-input').value = room;
  if (location.hash.slice(1) !== room) history.replaceState(null, '', `#${encodeURIComponent(room)}`);
  const old = state.ws;
  state.ws = null;
  if (old) old.close(1000, 'leaving');
  connect();
}

// Room rules and moderation (moderation.js): it stops the visit after a kick, a ban or a refusal.
const moderation = createModeration({
  socket: () => state.ws,
  room: () => state.room,
  notice,
  rejoin: () => restart(state.room),
  stop(status) {
    clearTimeout(state.reconnectTimer);
    const ws = state.ws;
    state.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'leaving');
    setStatus('closed', status);
    notice('');
  },
});

// ---- Your own messages, the offline outbox, older messages, why a socket closed -----------------

/** Own messages: the user's (by id, every tab), or an anonymous visitor's texts as they come back. */
function isMine(m) {
  if (state.myUserId !== null) return m.user === state.myUserId;
  if (m.user !== null || m.name !== state.myName) return false;
  const i = state.echoes.indexOf(m.text);
  if (i < 0) return false;
  state.echoes.splice(i, 1);
  return true;
}

/** Sends now when the server has greeted this socket, else keeps the text (shown as waiting) for the next one. */
function send(text) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN && state.myName !== null) {
    state.echoes.push(text);
    state.ws.send(JSON.stringify({ type: 'message', text }));
    return;
  }
  state.outbox.push(text);
  addLine((li) => {
    li.className = 'pending';
    li.textContent = text;
  });
}

function flushOutbox() {
  const waiting = state.outbox.splice(0);
  for (const li of $('messages').querySelectorAll('li.pending')) li.remove();
  for (const text of waiting) send(text);
}

function noteOldest(messages) {
  if (messages.length > 0 && (state.oldestId === null || messages[0].id < state.oldestId))
    state.oldestId = messages[0].id;
  $('older').hidden = !state.hasOlder || state.oldestId === null;
}

/** The page of history before the oldest message shown (REST), put above it without moving the view. */
async function loadOlder() {
  if (state.loadingOlder || !state.hasOlder || state.oldestId === null) return;
  state.loadingOlder = true;
  const room = state.room;
  try {
    const page = await api(
      'GET',
      `/chat/rooms/${encodeURIComponent(room)}/messages?before=${state.oldestId}&limit=50`,
    );
    if (room !== state.room) return;
    const list = $('messages');
    const first = list.firstElementChild;
    const height = list.scrollHeight;
    for (const m of page.messages) {
      const last = list.lastElementChild;
      showMessage(m);
      if (list.lastElementChild !== last) list.insertBefore(list.lastElementChild, first);
    }
    list.scrollTop += list.scrollHeight - height;
    state.hasOlder = page.hasMore;
    if (page.messages.length > 0) state.oldestId = page.messages[0].id;
    if (!page.hasMore) {
      const li = document.createElement('li');
      li.className = 'system beginning';
      li.textContent = `This is the beginning of #${room}.`;
      list.prepend(li);
    }
    $('older').hidden = !state.hasOlder;
  } catch (err) {
    notice(`Older messages could not be loaded: ${err.message}`);
  } finally {
    state.loadingOlder = false;
  }
}

/** What a close means to the person reading (see README, close codes). */
const CLOSE_EXPLAINED = {
  1001: 'The server is restarting.',
  1008: 'You were sending too fast.',
  1009: 'That message was too big.',
  1013: 'The connection could not keep up.',
  4001: 'You were logged out: your session ended (a logout elsewhere, a new password, or an administrator). You are anonymous here now.',
  4002: 'Your login could not be checked (the server cannot reach its database).',
};

function explainClose(event) {
  state.myName = null;
  if (event.code === 4001) {
    showUser(null);
    state.attempt = 0; // back at once, as an anonymous visitor
  }
  const why = CLOSE_EXPLAINED[event.code] ?? (event.reason ? `Connection closed: ${event.reason}` : '');
  if (why) notice(why);
  if (event.code === 4001) {
    state.closedWhy = why;
    systemLine('You were logged out.');
  }
}

// The CSRF cookie's name is the server's CSRF_COOKIE_NAME: GET /auth/csrf says it (and sets the
// cookie). The cookie is read before each request, since a login (in any tab) rotates the token.
let csrfCookieName = null;

async function csrfToken() {
  const current = csrfCookieName && cookie(csrfCookieName);
  if (current) return current;
  const res = await fetch('/auth/csrf', { credentials: 'same-origin' });
  const data = await res.json();
  csrfCookieName = data.cookieName;
  return data.csrfToken;
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') {
    headers['X-CSRFToken'] = await csrfToken();
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw new Error((data && [].concat(data.message).join('; ')) || `HTTP ${res.status}`);
  return data;
}

function showUser(user) {
  $('login-form').hidden = !!user;
  $('who').hidden = !user;
  $('who-name').textContent = user ? user.fullName : '';
}

async function loadUser() {
  try {
    showUser(await api('GET', '/auth/me'));
  } catch {
    showUser(null);
  }
}

$('room-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const room = $('room-input').value.trim();
  if (!ROOM_PATTERN.test(room)) return notice('A room name is 1 to 100 letters, digits, _ or -.');
  if (room !== state.room) restart(room);
});

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const user = await api('POST', '/auth/login', { username: $('username').value, password: $('password').value });
    $('password').value = '';
    showUser(user);
    notice('');
    restart(state.room); // the socket takes its name from the session at connect
  } catch (err) {
    notice(err.message);
  }
});

$('logout').addEventListener('click', async () => {
  // This page's own socket is closed with 4001 by the logout: not news to show.
  const ws = state.ws;
  state.ws = null;
  if (ws) ws.close(1000, 'logging out');
  try {
    await api('POST', '/auth/logout');
  } catch (err) {
    notice(err.message);
  }
  showUser(null);
  restart(state.room);
});

$('send-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = $('text');
  const text = input.value;
  if (!text.trim()) return;
  send(text);
  input.value = '';
});

$('reconnect').addEventListener('click', () => connect());
$('older').addEventListener('click', () => loadOlder());
$('messages').addEventListener('scroll', () => {
  if ($('messages').scrollTop < 40) loadOlder();
});

window.addEventListener('hashchange', () => {
  const room = roomFromHash();
  if (room && room !== state.room) restart(room);
});

$('room-input').value = state.room;
loadUser().then(() => restart(state.room));
