// Measures append cost and frame rate of the sequence view; run by bench/sequence_render.py.
(async ({ existing, appends, rate, seconds }) => {
  const { applySequence, emptyDiagram } = await import("/static/archviz/diagram.js");
  const { createSequenceView } = await import("/static/archviz/sequence.js");
  const participants = [
    { id: "client:docker", role: "client", label: "Client" },
    { id: "daemon:d", role: "daemon", label: "Daemon docker.sock" },
    { id: "runtime:d", role: "runtime", label: "Runtime (containerd)" },
    { id: "registry:r", role: "registry", label: "Registry 127.0.0.1:5000" },
  ];
  const steps = [
    ["client:docker", "daemon:d", "request", "pull 127.0.0.1:5000/lab/app:1", true],
    ["daemon:d", "registry:r", "request", "pull 127.0.0.1:5000/lab/app:1", true],
    ["registry:r", "daemon:d", "reply", "manifest and layers", true],
    ["daemon:d", "client:docker", "reply", "pulled 127.0.0.1:5000/lab/app:1", true],
    ["client:docker", "daemon:d", "request", "create container web from 127.0.0.1:5000/lab/app:1", false],
    ["client:docker", "daemon:d", "request", "attach to web (output streams back)", false],
    ["client:docker", "daemon:d", "request", "start web", false],
    ["daemon:d", "runtime:d", "request", "create and start task web", false],
    ["runtime:d", "daemon:d", "reply", "web exited with code 0", false],
    ["daemon:d", "daemon:d", "self", "remove container web", false],
  ];
  let n = 0;
  const next = () => {
    const [sender, receiver, kind, label, pulled] = steps[n % steps.length];
    const run = Math.floor(n / steps.length);
    n += 1;
    return {
      participants,
      interactions: [{ id: `i${run}`, title: `docker run 127.0.0.1:5000/lab/app:1 (#${run})`, blocks: { [`b${run}`]: "image not found locally" } }],
      messages: [{ id: `${n}.0`, time_ns: String(1700000000000000000n + BigInt(n) * 1000000n), sender, receiver, kind,
                   label, observation: n, interaction: `i${run}`, block: pulled ? `b${run}` : null, inferred: true }],
    };
  };
  const scroller = document.querySelector("#sequence-scroller");
  const view = createSequenceView({ scroller, header: document.querySelector("#sequence-header"), onSelect: () => {} });
  const diagram = emptyDiagram();
  const bulk = { participants, interactions: [], messages: [] };
  for (let i = 0; i < existing; i += 1) {
    const one = next();
    bulk.interactions.push(...one.interactions);
    bulk.messages.push(...one.messages);
  }
  applySequence(diagram, bulk);
  view.reset(diagram);
  view.scrollToBottom();
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));

  const costs = [];
  for (let i = 0; i < appends; i += 1) {
    const start = performance.now();
    view.appended(applySequence(diagram, next()));
    view.scrollToBottom();
    void scroller.scrollHeight;  // force the layout the append causes
    costs.push(performance.now() - start);
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }

  let frames = 0;
  let longest = 0;
  let last = performance.now();
  let running = true;
  const tick = (now) => {
    frames += 1;
    longest = Math.max(longest, now - last);
    last = now;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const feeder = setInterval(() => {
    view.appended(applySequence(diagram, next()));
    view.scrollToBottom();
  }, 1000 / rate);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  running = false;
  clearInterval(feeder);
  const elapsed = (performance.now() - started) / 1000;
  costs.sort((a, b) => a - b);
  return {
    messages: diagram.messages.length,
    inDom: document.querySelectorAll("svg.sequence g.message").length,
    median: costs[Math.floor(costs.length / 2)],
    p95: costs[Math.floor(costs.length * 0.95)],
    fps: frames / elapsed,
    longestFrame: longest,
  };
});
