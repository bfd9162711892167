// A row of the audit table, drawn from an event as /ws/audit/ sends it: the same cells, links and marks as the
// server draws in templates/archviz/registry.html (keep the two alike).

import { humanSize } from "./format.js";

const AGENT_CHARACTERS = 40; // Django's truncatechars:40
const CHECK = "a HEAD request: the client asked whether it exists and downloaded nothing";

export function utcTime(timeNs) {
  return new Date(Number(BigInt(timeNs) / 1000000n)).toISOString().replace("T", " ").slice(0, 23);
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

const filterLink = (name, value, text = value) => element("a", { href: `?${new URLSearchParams({ [name]: value })}` }, text);

function truncated(text) {
  return text.length > AGENT_CHARACTERS ? `${text.slice(0, AGENT_CHARACTERS - 1)}…` : text;
}

function actionCell(event) {
  const cell = element("td", {}, `${event.action} `);
  if (event.existence_check) cell.append(element("span", { class: "badge", title: CHECK }, "existence check"));
  else cell.append(element("small", {}, event.request_method));
  if (event.from_repository) cell.append(element("small", {}, ` from ${event.from_repository}`));
  return cell;
}

function targetCell(event) {
  const cell = element("td", {}, event.target_kind);
  if (event.references.length) {
    cell.append("\n          ", element("a", {
      class: "blobs", "data-exact": "", href: `?${event.blobs_query}`,
      title: `the ${event.references.length} blobs this manifest references, as the registry listed them`,
    }, `blobs (${event.references.length})`));
  } else if (event.blobs_query) {
    cell.append("\n          ", element("a", {
      class: "blobs", href: `?${event.blobs_query}`,
      title: "the registry did not list this manifest's blobs: these are the blobs the same client moved in this "
        + "repository within a minute of it",
    }, "blobs"));
  }
  return cell;
}

function digestCell(event, pullsReport) {
  const cell = element("td", { class: "digest" });
  if (!event.digest) return cell;
  cell.append(element("a", { href: `?${new URLSearchParams({ digest: event.digest })}`, title: event.digest },
    `${event.digest.slice(0, 19)}…`));
  if (event.action === "pull") {
    cell.append(" ", element("a", { class: "report", href: `${pullsReport}?${new URLSearchParams({ digest: event.digest })}`,
      title: "every actor, address and user agent that pulled this digest" }, "who pulled"));
  }
  return cell;
}

export function auditRow(event, pullsReport) {
  const row = element("tr", { "data-action": event.action, "data-source": event.source, "data-event": event.event_id });
  if (event.existence_check) row.dataset.check = "true";
  row.append(
    element("td", { class: "time", "data-time-ns": event.time_ns }, utcTime(event.time_ns)),
    actionCell(event),
    element("td", {}, filterLink("repository", event.repository)),
    element("td", {}, event.tag),
    targetCell(event),
    digestCell(event, pullsReport),
    element("td", { class: "size", "data-bytes": event.size ?? "" }, humanSize(event.size ?? "")),
    element("td", {}, filterLink("addr", event.request_addr)),
    element("td", { class: "agent", title: event.request_useragent }, truncated(event.request_useragent)),
    element("td", {}, event.actor),
    element("td", {}, filterLink("source", event.source)),
  );
  return row;
}
