// The console's login form: the same CSRF-protected POST /auth/login as any client, then reload.

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = document.getElementById('error');
  // GET /auth/csrf sets the CSRF cookie (whatever CSRF_COOKIE_NAME calls it) and gives its token.
  const { csrfToken } = await (await fetch('/auth/csrf', { credentials: 'same-origin' })).json();
  const res = await fetch('/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken },
    body: JSON.stringify({ username: form.username.value, password: form.password.value }),
  });
  if (res.ok) return location.reload();
  const body = await res.json().catch(() => ({}));
  if (body.otp_required) return askForCode(form, body.message);
  error.textContent = [].concat(body.message || `HTTP ${res.status}`).join('; ');
  error.hidden = false;
});

// Two-factor: the password was right and the account has an authenticator. The server keeps the
// login pending (an HttpOnly cookie, 5 minutes); this form sends the code alone, as POST /auth/login {code}.
function askForCode(passwordForm, message) {
  const input = Object.assign(document.createElement('input'), {
    name: 'code', required: true, inputMode: 'numeric', autocomplete: 'one-time-code', maxLength: 64, placeholder: '123 456',
  });
  const label = document.createElement('label');
  label.append('Code from your authenticator app, or a recovery code ', input);
  const button = Object.assign(document.createElement('button'), { type: 'submit', textContent: 'Verify' });
  const note = Object.assign(document.createElement('p'), { id: 'code-note', className: 'muted', textContent: message });
  const error = Object.assign(document.createElement('p'), { id: 'error', className: 'error', hidden: true });
  error.setAttribute('role', 'alert');
  const form = Object.assign(document.createElement('form'), { id: 'login-code', className: 'card' });
  form.append(note, label, button, error);
  passwordForm.replaceWith(form);
  input.focus();
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    button.textContent = 'Checking…';
    const { csrfToken } = await (await fetch('/auth/csrf', { credentials: 'same-origin' })).json();
    const res = await fetch('/auth/login', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken },
      body: JSON.stringify({ code: input.value }),
    });
    if (res.ok) return location.reload();
    const body = await res.json().catch(() => ({}));
    error.textContent = [].concat(body.message || `HTTP ${res.status}`).join('; ');
    error.hidden = false;
    button.disabled = false;
    button.textContent = 'Verify';
    // The pending login lapsed (or was refused): start again with the password.
    if (res.status === 401 && !body.otp_required) setTimeout(() => location.reload(), 2500);
    else input.select();
  });
}
