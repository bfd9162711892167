// A websocket that reconnects by itself, with backoff, and hands each JSON frame to onFrame. Its link state
// (connecting, live, reconnecting) is shown in the page's #link-state indicator; while it reconnects, the indicator
// says which part of the dashboard is not ready (its database, its channel layer), as /readyz tells it.

function showLinkState(linkState) {
  const link = document.querySelector("#link-state");
  if (!link) return;
  link.dataset.state = linkState;
  link.textContent = linkState === "live" ? "● live" : `${linkState}…`;
  link.title = "";
  if (linkState === "reconnecting") showWhatIsDown(link);
}

async function showWhatIsDown(link) {
  let readiness;
  try {
    readiness = await (await fetch("/readyz")).json();
  } catch {
    return; // the server itself does not answer: "reconnecting…" says it all
  }
  const down = readiness.not_ready.filter((name) => !name.startsWith("daemon"));
  if (link.dataset.state !== "reconnecting" || down.length === 0) return;
  link.textContent = `reconnecting… (${down.join(", ")} not ready)`;
  link.title = down.map((name) => `${name}: ${readiness.checks[name].detail}`).join("\n");
}

export function openSocket(path, { onFrame, onState = showLinkState }) {
  let socket = null;
  let delay = 250;
  const url = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;

  function connect() {
    onState("connecting");
    socket = new WebSocket(url());
    socket.addEventListener("open", () => {
      delay = 250;
      onState("live");
    });
    socket.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      onState("reconnecting");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    });
  }

  connect();
  return {
    send(frame) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
    },
  };
}
