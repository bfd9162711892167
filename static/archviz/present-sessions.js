// The presenter's sessions panel: keep the range on screen as a named session, or import a session file, then
// open what was kept. Both need a staff user (the server says so otherwise); the error the server gives is shown.

const $ = (selector) => document.querySelector(selector);

function csrfToken() {
  const field = document.querySelector("input[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

function showError(text) {
  const error = $("#session-error");
  error.textContent = text;
  error.hidden = !text;
}

async function send(url, body) {
  showError("");
  let response;
  try {
    response = await fetch(url, { method: "POST", body, headers: { "X-CSRFToken": csrfToken() } });
  } catch (error) {
    showError(`The dashboard did not answer (${error.message}): is it still running?`);
    return;
  }
  const answer = await response.json().catch(() => ({ error: `the dashboard answered ${response.status}` }));
  if (!response.ok) {
    showError(answer.error || `the dashboard answered ${response.status}`);
    return;
  }
  window.location.assign(`/present/?session=${encodeURIComponent(answer.name)}&presenter=1`);
}

const keep = $("#session-keep");
if (keep) {
  keep.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(keep);
    const query = new URLSearchParams(document.body.dataset.api.split("?")[1] || "");
    // A range with no end is kept up to now.
    form.set("since", query.get("since") || "0");
    form.set("until", query.get("until") || String(Date.now() / 1000));
    send("/api/sessions/", form);
  });
}

const upload = $("#session-import");
if (upload) {
  upload.addEventListener("submit", (event) => {
    event.preventDefault();
    send("/api/sessions/import", new FormData(upload));
  });
}
