// The console's Chat tab (issue 18): active rooms, rooms with rules (who joins, who posts, topic,
// moderator group, members) to declare, edit or remove, and a room's moderation: its recent
// messages with delete, mute, kick and ban, the mutes and bans in force, and the moderation log.
// Everything goes through the REST API (/admin/chat/…, /chat/rooms/:room/moderation/…).

const JOIN = [['anyone', 'anyone'], ['users', 'logged-in users'], ['members', 'members']];
const POST = [...JOIN, ['moderators', 'moderators']];
const DURATIONS = [['3600', '1 hour'], ['600', '10 minutes'], ['86400', '1 day'], ['604800', '1 week'], ['', 'until lifted']];
const enc = encodeURIComponent;
const list = (text) => (text || '').split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

/** The tab's sections; `ui` is the console's own helpers. */
export async function chatRoomsTab(ui) {
  const { api, h, table, tag } = ui;
  const room = new URLSearchParams(location.hash.split('?')[1] || '').get('room');
  const [active, declared, log] = await Promise.all([
    api('GET', '/chat/rooms'),
    api('GET', '/admin/chat/rooms'),
    api('GET', `/admin/chat/moderation/log?limit=50${room ? `&room=${enc(room)}` : ''}`),
  ]);
  const byRoom = new Map(declared.map((r) => [r.room, r]));
  const link = (name) => h('a', { href: `#chat?room=${enc(name)}`, text: name });

  const sections = [
    h('section', {}, h('h2', { text: 'Active rooms' }),
      active.length
        ? table(['Room', 'Members', 'Rules'], active.map((r) => h('tr', { 'data-room': r.room },
          h('td', {}, link(r.room)), h('td', { text: String(r.members) }), h('td', {}, byRoom.has(r.room) ? tag('rules') : ''))))
        : h('p.muted', { text: 'No one is chatting right now.' })),
    h('section', {}, h('h2', { text: `Rooms with rules (${declared.length})` }),
      h('p.muted', { text: 'Other rooms are open to everyone, anonymous visitors included (unless CHAT_UNDECLARED_ROOMS=closed).' }),
      declared.length ? rulesTable(ui, declared, link) : h('p.muted#no-rules', { text: 'No room has rules yet.' })),
    h('section', {}, h('h2#rules-title', { text: room && byRoom.has(room) ? `Rules of ${room}` : 'Give a room rules' }),
      rulesForm(ui, room ? (byRoom.get(room) ?? { room }) : null)),
  ];
  if (room) sections.push(...(await roomModeration(ui, room)));
  sections.push(h('section', {}, h('h2', { text: room ? `Moderation log of ${room}` : 'Moderation log' }), logTable(ui, log)));
  return sections;
}

function rulesTable(ui, declared, link) {
  const { h, table, ask, perform } = ui;
  const label = (choices, value) => (choices.find(([v]) => v === value) || [value, value])[1];
  return table(['Room', 'Who joins', 'Who posts', 'Topic', 'Moderators', 'Members', ''], declared.map((r) => h('tr', { 'data-rules': r.room },
    h('td', {}, link(r.room)), h('td', { text: label(JOIN, r.join) }), h('td', { text: label(POST, r.post) }),
    h('td', { text: r.topic || '—' }), h('td', { text: r.moderatorGroup ? `staff, ${r.moderatorGroup.name}` : 'staff' }),
    h('td', { text: [...r.members.users.map((u) => u.username), ...r.members.groups.map((g) => `${g.name} (group)`)].join(', ') || '—' }),
    h('td.actions', {},
      h('a.button.secondary', { href: `#chat?room=${encodeURIComponent(r.room)}`, text: 'Edit' }),
      h('button.danger', { type: 'button', text: 'Remove rules', 'aria-label': `Remove the rules of ${r.room}`, onclick: async (e) => {
        const button = e.currentTarget;
        if (await ask(`Remove the rules of ${r.room}?`, 'The room is open to everyone again (or closed, with CHAT_UNDECLARED_ROOMS=closed). Open sockets are decided again at once.', 'Remove rules'))
          await perform({ button, busy: 'Removing…', done: `${r.room} has no rules any more.`, failed: `Could not remove the rules of ${r.room}` },
            () => ui.api('DELETE', `/admin/chat/rooms/${encodeURIComponent(r.room)}`));
      } })))));
}

function rulesForm(ui, current) {
  const { h, perform, formValues } = ui;
  const select = (name, choices, value, label) => h('select', { name, 'aria-label': label },
    ...choices.map(([v, text]) => h('option', { value: v, text, selected: v === value })));
  const form = h('form.stack#rules-form', { onsubmit: (e) => {
    e.preventDefault();
    const v = formValues(e.target);
    const members = { users: list(v.users), groups: list(v.groups) };
    const body = { join: v.join, post: v.post, topic: v.topic || undefined, moderatorGroup: v.moderatorGroup.trim() || undefined,
      members: members.users.length || members.groups.length ? members : undefined };
    perform({ button: e.submitter, busy: 'Saving…', done: `Rules of ${v.room} saved.`, failed: `Could not save the rules of ${v.room}` },
      async () => {
        await ui.api('PUT', `/admin/chat/rooms/${encodeURIComponent(v.room)}`, body);
        if (!location.hash.includes(`room=${encodeURIComponent(v.room)}`)) location.hash = `#chat?room=${encodeURIComponent(v.room)}`;
      });
  } },
    h('label', {}, 'Room ', h('input', { name: 'room', required: true, maxlength: 100, value: current?.room ?? '', placeholder: 'room', 'aria-label': 'Room' })),
    h('label', {}, 'Who may join ', select('join', JOIN, current?.join ?? 'anyone', 'Who may join')),
    h('label', {}, 'Who may post ', select('post', POST, current?.post ?? 'anyone', 'Who may post')),
    h('label', {}, 'Topic ', h('input', { name: 'topic', maxlength: 500, value: current?.topic ?? '', 'aria-label': 'Topic', size: 40 })),
    h('label', {}, 'Moderator group ', h('input', { name: 'moderatorGroup', maxlength: 150, value: current?.moderatorGroup?.name ?? '', placeholder: 'Django group name', 'aria-label': 'Moderator group' })),
    h('label', {}, 'Member users ', h('input', { name: 'users', value: (current?.members?.users ?? []).map((u) => u.username).join(', '), placeholder: 'usernames, comma-separated', 'aria-label': 'Member users', size: 40 })),
    h('label', {}, 'Member groups ', h('input', { name: 'groups', value: (current?.members?.groups ?? []).map((g) => g.name).join(', '), placeholder: 'group names, comma-separated', 'aria-label': 'Member groups', size: 40 })),
    h('p', {}, h('button', { type: 'submit', text: current?.join ? 'Save rules' : 'Give rules' })));
  return form;
}

/** A room's recent messages (each with its actions), and its mutes and bans in force. */
async function roomModeration(ui, room) {
  const { h, table, when, tag, perform, ask } = ui;
  const path = `/chat/rooms/${encodeURIComponent(room)}`;
  const [{ messages }, sanctions] = await Promise.all([
    ui.api('GET', `${path}/messages?limit=30`),
    ui.api('GET', `${path}/moderation/sanctions`),
  ]);
  const reason = h('input#mod-reason', { maxlength: 500, placeholder: 'reason (optional)', 'aria-label': 'Reason', size: 30 });
  const duration = h('select#mod-duration', { 'aria-label': 'For how long' }, ...DURATIONS.map(([v, text]) => h('option', { value: v, text })));
  const withReason = (body) => (reason.value.trim() ? { ...body, reason: reason.value.trim() } : body);
  const withDuration = (body) => (duration.value ? { ...body, duration: Number(duration.value) } : body);
  const act = (button, action, body, done, failed) =>
    perform({ button, busy: 'Working…', done, failed }, () => ui.api('POST', `${path}/moderation/${action}`, withReason(body)));
  const rows = messages.slice().reverse().map((m) => h('tr', { 'data-message': String(m.id) },
    h('td', { text: when(m.ts) }), h('td', { text: m.name }), h('td', { text: m.text }),
    h('td.actions', {},
      h('button.secondary', { type: 'button', text: 'Delete', 'aria-label': `Delete message ${m.id}`,
        onclick: (e) => act(e.currentTarget, 'delete', { id: m.id }, 'Message deleted.', 'Could not delete the message') }),
      m.user === null ? '' : [
        h('button.secondary', { type: 'button', text: 'Mute', 'aria-label': `Mute ${m.name}`,
          onclick: (e) => act(e.currentTarget, 'mute', withDuration({ user: m.user }), `${m.name} muted.`, `Could not mute ${m.name}`) }),
        h('button.secondary', { type: 'button', text: 'Kick', 'aria-label': `Kick ${m.name}`,
          onclick: (e) => act(e.currentTarget, 'kick', { user: m.user }, `${m.name} kicked.`, `Could not kick ${m.name}`) }),
        h('button.danger', { type: 'button', text: 'Ban', 'aria-label': `Ban ${m.name}`, onclick: async (e) => {
          const button = e.currentTarget;
          if (await ask(`Ban ${m.name} from ${room}?`, `Their sockets in ${room} close now and they cannot join until the ban ends (${duration.selectedOptions[0].text}).`, 'Ban'))
            await act(button, 'ban', withDuration({ user: m.user }), `${m.name} banned.`, `Could not ban ${m.name}`);
        } }),
      ])));
  const sanctionRows = sanctions.map((s) => h('tr', { 'data-sanction': String(s.id) },
    h('td', {}, tag(s.kind === 'ban' ? 'banned' : 'muted')), h('td', { text: s.user.name ?? `user ${s.user.id}` }),
    h('td', { text: s.until ? when(s.until) : 'until lifted' }), h('td', { text: s.reason || '—' }),
    h('td.actions', {}, h('button', { type: 'button', text: s.kind === 'ban' ? 'Unban' : 'Unmute',
      onclick: (e) => act(e.currentTarget, s.kind === 'ban' ? 'unban' : 'unmute', { user: s.user.id }, `${s.user.name} may ${s.kind === 'ban' ? 'join' : 'post'} again.`, 'Could not lift it') }))));
  return [
    h('section', {}, h('h2', { text: `Recent messages in ${room}` }),
      h('p.inline', {}, 'Mute and ban for ', duration, ' ', reason),
      messages.length ? table(['When', 'Who', 'Text', ''], rows) : h('p.muted', { text: 'No messages.' })),
    h('section', {}, h('h2', { text: `Mutes and bans in ${room}` }),
      sanctions.length ? table(['', 'Who', 'Until', 'Reason', ''], sanctionRows) : h('p.muted#no-sanctions', { text: 'No one is muted or banned here.' })),
  ];
}

function logTable(ui, log) {
  const { h, table, when, tag } = ui;
  if (!log.length) return h('p.muted', { text: 'Nothing recorded yet.' });
  return table(['When', 'Room', 'Who', 'Action', 'Whom', 'Detail'], log.map((e) => h('tr', { 'data-log': String(e.id) },
    h('td', { text: when(e.at) }), h('td', { text: e.room }), h('td', { text: e.actor.name }), h('td', {}, tag(e.action)),
    h('td', { text: e.target?.name ?? '—' }),
    h('td.muted', { text: [e.message ? `“${e.message.text}”` : '', e.until ? `until ${when(e.until)}` : '', e.reason].filter(Boolean).join(' · ') || '—' }))));
}
