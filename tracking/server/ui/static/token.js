// Bearer tokens for a server started with --tokens-file: the first 401 asks
// for a token (kept for this tab only, in sessionStorage) and every request
// then carries it as `Authorization: Bearer <token>`.

const KEY = "mlcadence.token";
export const READ_ONLY_MESSAGE =
  "This token can only read: use a token with the 'write' scope to change anything.";

let pending = null; // one prompt answers every request that is waiting for it

function authHeaders(headers = {}) {
  const token = sessionStorage.getItem(KEY);
  return token ? { ...headers, Authorization: `Bearer ${token}` } : headers;
}

function askForToken(message) {
  if (pending) return pending;
  pending = new Promise((resolve) => {
    const input = document.createElement("input");
    Object.assign(input, { type: "password", id: "token-input", name: "token", required: true, autocomplete: "current-password" });
    const label = document.createElement("label");
    label.htmlFor = "token-input";
    label.textContent = "Access token";
    const submit = document.createElement("button");
    submit.type = "submit";
    submit.textContent = "Use this token";
    const why = document.createElement("p");
    why.id = "token-why";
    why.textContent = message;
    input.setAttribute("aria-describedby", "token-why");
    const form = document.createElement("form");
    form.id = "token-prompt";
    form.className = "token-prompt";
    form.setAttribute("aria-label", "Sign in with a token");
    form.append(why, label, input, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, input.value.trim());
      form.remove();
      pending = null;
      resolve();
    });
    document.querySelector("header").after(form);
    input.focus();
  });
  return pending;
}

// fetch, with the token; a 401 asks for one (again, if it was refused) and retries.
export async function authorizedFetch(url, init = {}) {
  for (;;) {
    const response = await fetch(url, { ...init, headers: authHeaders(init.headers) });
    if (response.status !== 401) return response;
    let message = "This server needs an access token.";
    try { message = (await response.json()).message || message; } catch { /* not JSON */ }
    await askForToken(message);
  }
}
