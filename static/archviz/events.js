// Turning one observation into what a person reads in the event table. Pure: returns strings.

export function clockTime(timeNs) {
  const ms = BigInt(timeNs) / 1000000n;
  const date = new Date(Number(ms));
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(Number(ms % 1000n), 3)}`;
}

export function details(observation) {
  const a = observation.attributes || {};
  const parts = [];
  if (observation.source === "watcher") return a.message || "";
  if (a.exitCode !== undefined) parts.push(`exit code ${a.exitCode}`);
  if (a.signal !== undefined) parts.push(`signal ${a.signal}`);
  if (a.detail) parts.push(a.detail);
  if (a.image && observation.kind.startsWith("container-")) parts.push(`image ${a.image}`);
  if (a.container) parts.push(`container ${a.container.slice(0, 12)}`);
  if (observation.kind === "daemon-other") parts.push(`${a.type} ${a.action}`);
  return parts.join(" · ");
}

export function party(observation) {
  return observation.kind.split("-")[0];
}
