// The console's login form: the same CSRF-protected POST /auth/login as any client, then reload.
const cookie = (name) =>
  decodeURIComponent((document.cookie.split('; ').find((c) => c.startsWith(name + '=')) || '').slice(name.length + 1));

document.getElementById('login').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = document.getElementById('error');
  await fetch('/auth/csrf', { credentials: 'same-origin' });
  const res = await fetch('/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': cookie('csrftoken') },
    body: JSON.stringify({ username: form.username.value, password: form.password.value }),
  });
  if (res.ok) return location.reload();
  const body = await res.json().catch(() => ({}));
  error.textContent = [].concat(body.message || `HTTP ${res.status}`).join('; ');
  error.hidden = false;
});
