// Room rules and moderation on the chat page (issue 18): the room's topic and who may post, a
// deleted message disappearing, a muted user told why, a refused or closed room saying why, and a
// moderator's menu on each message (delete, mute, kick, ban) sending live.v1 commands.
// app.js calls the hooks below; everything here builds DOM with textContent only.

const $ = (id) => document.getElementById(id);

/** Close codes that end a visit: the page does not reconnect by itself after them. */
const FINAL_CLOSES = {
  4010: 'kicked',
  4011: 'banned',
  4012: 'not allowed',
};

const DURATIONS = [
  ['600', '10 minutes'],
  ['3600', '1 hour'],
  ['86400', '1 day'],
  ['', 'until lifted'],
];

const time = (iso) => new Date(iso).toLocaleString([], { hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' });

export function createModeration(ctx) {
  // ctx: { socket(): WebSocket|null, room(): string, notice(text), stop(status), rejoin() }
  const state = { moderator: false, me: null, deleted: new Set(), muteTimer: null, muteText: '' };

  function note(text, action) {
    const el = $('mod-note');
    el.replaceChildren();
    el.hidden = !text;
    if (!text) return;
    el.append(document.createTextNode(text));
    if (action) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.textContent = action.label;
      button.addEventListener('click', action.run);
      el.append(' ', button);
    }
  }

  function showRoom(frame) {
    const info = $('room-info');
    const parts = [];
    if (frame.topic) parts.push(frame.topic);
    if (frame.readOnly) parts.push(frame.readOnly + '.');
    info.textContent = parts.join(' · ');
    info.hidden = parts.length === 0;
    $('send-form').classList.toggle('read-only', !!frame.readOnly);
    state.moderator = !!frame.moderator;
    document.body.classList.toggle('moderator', state.moderator);
  }

  function muted(until, reason) {
    clearTimeout(state.muteTimer);
    const message = `You are muted in this room${until ? ` until ${time(until)}` : ''}${reason ? `: ${reason}` : ''}.`;
    state.muteText = message;
    note(message);
    $('send-form').classList.add('muted');
    if (until) {
      const left = new Date(until).getTime() - Date.now();
      if (left > 0 && left < 2 ** 31) state.muteTimer = setTimeout(unmuted, left);
    }
  }

  function unmuted() {
    clearTimeout(state.muteTimer);
    state.muteText = '';
    $('send-form').classList.remove('muted');
    note('');
  }

  function send(command) {
    const ws = ctx.socket();
    if (!ws || ws.readyState !== WebSocket.OPEN) return ctx.notice('Not connected: try again in a moment.');
    ws.send(JSON.stringify(command));
  }

  function closeMenus() {
    for (const m of document.querySelectorAll('#messages .modmenu')) m.remove();
  }

  function openMenu(li, m) {
    const wasOpen = li.querySelector('.modmenu');
    closeMenus();
    if (wasOpen) return;
    const menu = document.createElement('div');
    menu.className = 'modmenu';
    menu.setAttribute('role', 'menu');
    const reason = document.createElement('input');
    reason.placeholder = 'reason (optional)';
    reason.maxLength = 500;
    reason.setAttribute('aria-label', 'Reason');
    const duration = document.createElement('select');
    duration.setAttribute('aria-label', 'For how long');
    for (const [value, label] of DURATIONS) duration.append(new Option(label, value));
    const act = (label, build) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.setAttribute('role', 'menuitem');
      b.dataset.action = label.toLowerCase();
      b.addEventListener('click', () => {
        const command = build();
        if (reason.value.trim()) command.reason = reason.value.trim();
        send(command);
        closeMenus();
      });
      return b;
    };
    const withDuration = (command) => (duration.value ? { ...command, duration: Number(duration.value) } : command);
    menu.append(act('Delete', () => ({ type: 'delete', id: m.id })));
    // Anonymous visitors have no identity to sanction, and nobody sanctions themselves.
    if (m.user !== null && m.user !== state.me) {
      menu.append(
        act('Mute', () => withDuration({ type: 'mute', user: m.user })),
        act('Kick', () => ({ type: 'kick', user: m.user })),
        act('Ban', () => withDuration({ type: 'ban', user: m.user })),
        duration,
      );
    }
    menu.append(reason);
    li.append(menu);
    menu.querySelector('button').focus();
  }

  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeMenus();
  });

  return {
    /** A new visit (room change, login): nothing of the last room's state is kept. */
    reset() {
      state.moderator = false;
      state.me = null;
      state.deleted.clear();
      document.body.classList.remove('moderator');
      showRoom({});
      unmuted();
    },

    /** A message already deleted is never shown (its `deleted` may arrive before a late copy). */
    isDeleted(id) {
      return state.deleted.has(id);
    },

    /** Adds the moderator's menu to a message line (hidden by CSS unless this visitor moderates). */
    decorate(li, m) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'msg-menu';
      button.textContent = '⋯';
      button.setAttribute('aria-label', `Moderate message from ${m.name}`);
      button.addEventListener('click', () => openMenu(li, m));
      li.append(button);
    },

    /** Handles a frame; true when app.js has nothing more to do with it. */
    handle(frame) {
      switch (frame.type) {
        case 'welcome':
          state.me = frame.user;
          showRoom(frame);
          return false;
        case 'room':
          showRoom(frame);
          return true;
        case 'deleted': {
          state.deleted.add(frame.id);
          const li = document.querySelector(`#messages li[data-id="${CSS.escape(String(frame.id))}"]`);
          if (li) li.remove();
          return true;
        }
        case 'muted':
          muted(frame.until, frame.reason);
          return true;
        case 'unmuted':
          unmuted();
          ctx.notice('You may post again.');
          return true;
        case 'moderated':
          ctx.notice(`Done: ${frame.action}${frame.user ? ` (user ${frame.user})` : ''}.`);
          return true;
        case 'error':
          if (frame.code === 'muted') {
            // The `muted` frame said why; a refused post only repeats it.
            if (state.muteText) note(state.muteText);
            else muted(frame.until, '');
            return true;
          }
          if (frame.code === 'forbidden') {
            note(frame.message);
            return true;
          }
          return false;
        default:
          return false;
      }
    },

    /**
     * The socket closed. A kick, a ban or rules that no longer let this visitor in end the visit:
     * say why and do not reconnect (true). A socket that never opened may have been refused by the
     * room's rules, which the browser does not tell: ask the room (GET /chat/rooms/:room) and stop
     * retrying if it refuses; otherwise (false) app.js retries as usual.
     */
    closed(event, opened) {
      const final = FINAL_CLOSES[event.code];
      if (final) {
        const why = event.reason || final;
        ctx.stop(final);
        if (event.code === 4010) note(`You were removed from #${ctx.room()} (${why}).`, { label: 'Rejoin', run: ctx.rejoin });
        else note(`${why.charAt(0).toUpperCase()}${why.slice(1)}.`);
        return true;
      }
      if (!opened) {
        const room = ctx.room();
        fetch(`/chat/rooms/${encodeURIComponent(room)}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
          .then(async (res) => {
            if (![401, 403, 404].includes(res.status) || ctx.room() !== room) return;
            const body = await res.json().catch(() => ({}));
            ctx.stop('not allowed');
            note(`You cannot join #${room}: ${body.message || 'not allowed'}.`);
          })
          .catch(() => undefined);
      }
      return false;
    },
  };
}
