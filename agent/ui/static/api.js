// api.js: every request the page sends to stratad goes through here, so each
// carries the session cookie and X-Strata-UI (stratad refuses a cookie-borne
// write without it: a cross-site form cannot set it), a 401 anywhere sends
// the page back to its login, and an error shows the Status message stratad
// wrote for a person to read.

let onUnauthorized = () => {};
let toastTimer = 0;

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

// A failed request: status is the HTTP code, message the Status's message.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 8000);
}

async function statusMessage(res) {
  const text = await res.text().catch(() => '');
  try {
    const s = JSON.parse(text);
    if (s && typeof s.message === 'string' && s.message) return s.message;
  } catch (_) { /* not JSON: the text itself, below */ }
  return text.trim() || `${res.status} ${res.statusText}`;
}

// fetch() with the page's headers. opts: method, body (an object is sent as
// JSON), type (Content-Type), signal, raw (return the Response unread:
// watches stream it), text (return the body as text), no401 (a 401 is this
// caller's answer, not an ended session: the login form).
export async function request(path, opts = {}) {
  const headers = { 'X-Strata-UI': '1', Accept: opts.text ? 'text/plain, */*' : 'application/json' };
  let body = opts.body;
  if (body !== undefined && typeof body !== 'string') body = JSON.stringify(body);
  if (body !== undefined) headers['Content-Type'] = opts.type || 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method: opts.method || 'GET', headers, body,
      credentials: 'same-origin', cache: 'no-store', signal: opts.signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, `cannot reach stratad (${e.message}): is it running?`);
  }
  if (res.status === 401 && !opts.no401) {
    onUnauthorized('Your session has ended (stratad restarted or you logged out): log in again.');
    throw new ApiError(401, 'not logged in');
  }
  if (!res.ok) throw new ApiError(res.status, await statusMessage(res));
  if (opts.raw) return res;
  if (opts.text) return res.text();
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// Runs an action for a button: disabled while it runs, its error in #toast.
// Returns the action's result, or undefined when it failed.
export async function withButton(button, action) {
  button.dataset.busy = '1';
  button.disabled = true;
  try {
    return await action();
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) toast(e.message);
    return undefined;
  } finally {
    delete button.dataset.busy;
    button.disabled = 'blocked' in button.dataset;
  }
}

// Blocks a button the API would refuse, saying why in its tooltip (why is
// null: allowed), so the page never offers what cannot work.
export function setBlocked(button, why) {
  if (why) {
    button.dataset.blocked = '1';
    button.title = why;
  } else {
    delete button.dataset.blocked;
    button.removeAttribute('title');
  }
  button.disabled = Boolean(why) || 'busy' in button.dataset;
}
