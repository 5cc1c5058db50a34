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
  error.textContent = [].concat(body.message || `HTTP ${res.status}`).join('; ');
  error.hidden = false;
});
