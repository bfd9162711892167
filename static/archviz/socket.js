// A websocket that reconnects by itself, with backoff, and hands each JSON frame to onFrame. Its link state
// (connecting, live, reconnecting) is shown in the page's #link-state indicator.

function showLinkState(linkState) {
  const link = document.querySelector("#link-state");
  if (!link) return;
  link.dataset.state = linkState;
  link.textContent = linkState === "live" ? "● live" : `${linkState}…`;
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
