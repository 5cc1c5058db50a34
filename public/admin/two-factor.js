// The console's Two-factor tab: the logged-in staff member's own authenticator (TOTP). Set up with
// a QR code the server made (or the secret typed in), confirmed with a code; ten recovery codes
// shown once; step-up for a session that has not passed the code; turning it off with a code.
// Everything goes through /auth/2fa, like any other client.

/** The /auth/2fa status, or null (not logged in, or the server did not answer). */
async function twoFactorStatus() {
  const res = await fetch('/auth/2fa', { credentials: 'same-origin', headers: { Accept: 'application/json' } }).catch(() => null);
  return res && res.ok ? res.json() : null;
}

// Before the console's first render: a staff member who must set up two-factor (STAFF_2FA=required),
// or whose session has not passed its code, lands on this tab, since the others answer 403 until then.
const first = await twoFactorStatus();
if (first && (first.mustEnrol || (first.enabled && !first.sessionVerified)) && !location.hash.startsWith('#two-factor'))
  location.hash = '#two-factor';

// A set-up in progress (secret, URI, QR) and recovery codes just made: kept across re-renders until
// confirmed or acknowledged, never stored anywhere else.
let enrolment = null;
let freshCodes = null;

/** The tab's sections; `ui` is the console's own helpers (api, h, flash, render). */
export async function twoFactorTab({ api, h, flash, render }) {
  const status = await api('GET', '/auth/2fa');

  /** A one-field code form that says what it is doing while the request runs. */
  const codeForm = (id, label, busyLabel, onCode) => {
    const input = h('input', { name: 'code', required: true, inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 64,
      placeholder: '123 456', 'aria-label': 'Code from your authenticator app', size: 12 });
    const button = h('button', { type: 'submit', text: label });
    return h(`form.inline#${id}`, { onsubmit: async (e) => {
      e.preventDefault();
      button.disabled = true;
      button.textContent = busyLabel;
      try {
        await onCode(input.value);
      } catch (err) {
        flash(err.message, true);
        button.disabled = false;
        button.textContent = label;
        input.select();
      }
    } }, input, button);
  };

  if (freshCodes) {
    const codes = freshCodes;
    return [h('section#recovery-codes', {},
      h('h2', { text: 'Your recovery codes' }),
      h('p', { text: 'Two-factor authentication is on. Keep these ten codes somewhere safe, away from your phone: each one logs you in once if the phone is lost. They are shown only now.' }),
      h('ol.codes', {}, codes.map((c) => h('li', {}, h('code', { text: c })))),
      h('p', {}, h('button#codes-saved', { type: 'button', text: 'I have saved them', onclick: () => { freshCodes = null; render(); } })))];
  }

  const sections = [];
  const policy = status.policy === 'required' ? 'This site requires it for staff.' : 'Optional for staff on this site.';
  if (status.enabled) {
    sections.push(h('section#two-factor-status', {},
      h('h2', { text: 'Two-factor authentication is on' }),
      h('p', { text: `Set up on ${new Date(status.confirmedAt).toLocaleString()}. ${status.recoveryCodesLeft} of 10 recovery codes left. ${policy}` }),
      status.sessionVerified ? null : h('p.error', { text: 'This session has not passed two-factor authentication yet (you logged in elsewhere, or before setting it up). Enter a code to use the console.' })));
    if (!status.sessionVerified)
      sections.push(h('section', {}, h('h2', { text: 'Verify this session' }),
        codeForm('two-factor-verify', 'Verify', 'Verifying…', async (code) => {
          await api('POST', '/auth/2fa/verify', { code });
          flash('This session is verified.');
          location.hash = '#users';
        })));
    sections.push(h('section', {}, h('h2', { text: 'Turn two-factor authentication off' }),
      h('p.muted', { text: 'Give a current code or a recovery code. To move to a new phone, turn it off here and set it up again.' }),
      codeForm('two-factor-disable', 'Turn off', 'Turning off…', async (code) => {
        await api('POST', '/auth/2fa/disable', { code });
        flash('Two-factor authentication is off.');
        await render();
      })));
    return sections;
  }

  sections.push(h('section#two-factor-status', {},
    h('h2', { text: 'Two-factor authentication is off' }),
    status.mustEnrol
      ? h('p.error', { text: 'This site requires two-factor authentication for staff: set it up to use the rest of the console.' })
      : h('p', { text: `A code from an app on your phone (any TOTP app: FreeOTP, Aegis, Google Authenticator…) after your password. ${policy}` })));

  if (!enrolment) {
    const start = h('button#two-factor-start', { type: 'button', text: status.pending ? 'Start the set-up again' : 'Set up two-factor authentication', onclick: async () => {
      start.disabled = true;
      start.textContent = 'Making a secret…';
      try {
        enrolment = await api('POST', '/auth/2fa/enrol');
      } catch (err) {
        flash(`Could not start the set-up: ${err.message}`, true);
      }
      await render();
    } });
    sections.push(h('section', {}, h('p', {}, start)));
    return sections;
  }

  const grouped = enrolment.secret.replace(/(.{4})(?=.)/g, '$1 ');
  sections.push(h('section#two-factor-enrol', {},
    h('h2', { text: 'Set up your authenticator' }),
    h('ol.steps', {},
      h('li', {}, 'Scan this QR code with the app:', h('br'),
        h('img#two-factor-qr', { src: enrolment.qrCode, alt: `QR code of ${enrolment.otpauthUri.split('?')[0]}`, width: 264, height: 264 })),
      h('li', {}, 'Or type this key into it (time-based, 6 digits, 30 seconds): ', h('code#two-factor-secret', { text: grouped })),
      h('li', {}, 'Enter the 6-digit code the app now shows:',
        codeForm('two-factor-confirm', 'Confirm', 'Checking…', async (code) => {
          const { recoveryCodes } = await api('POST', '/auth/2fa/confirm', { code });
          enrolment = null;
          freshCodes = recoveryCodes;
          flash('Two-factor authentication is on.');
          await render();
        }))),
    h('p', {}, h('button.secondary', { type: 'button', text: 'Cancel', onclick: () => { enrolment = null; render(); } }))));
  return sections;
}
