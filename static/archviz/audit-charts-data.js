// The audit page's charts as data: what /api/registry/chart answers, turned into uPlot's series, the sentence a
// screen reader hears, and the rows of the numbers table behind each chart. Pure: no DOM, no uPlot.

// Each action's colour and name; one table for all three charts. Existence checks (HEAD) are `check`.
export const ACTIONS = {
  push: { colour: "#1a7f37", label: "pushes" },
  pull: { colour: "#1f6feb", label: "downloads" },
  check: { colour: "#b8c0cc", label: "existence checks" },
  mount: { colour: "#8250df", label: "mounts" },
  delete: { colour: "#cf222e", label: "deletes" },
  scan: { colour: "#bf8700", label: "scans" },
  "scan-failed": { colour: "#9a6700", label: "failed scans" },
  "scan-stopped": { colour: "#d4a72c", label: "stopped scans" },
  "quota-exceed": { colour: "#a40e26", label: "quota exceeded" },
  "quota-warning": { colour: "#fa4549", label: "quota warnings" },
  replication: { colour: "#0969da", label: "replications" },
  retention: { colour: "#57606a", label: "retention runs" },
};
const OTHER = { colour: "#6e7781" };

export const actionColour = (line) => (ACTIONS[line] || OTHER).colour;
export const actionLabel = (line) => (ACTIONS[line] || { label: line }).label;
export const actorName = (actor) => actor || "(anonymous)";

// Painter's stacking: series i is the sum of lines i..n-1, drawn first to last, so each later series covers the
// lower part of the one before and line i shows as the band between them (the first line on top). A zero-height
// bar is null: nothing drawn.
export function stacked(lines, counts) {
  const length = lines.length ? counts[lines[0]].length : 0;
  const sums = [];
  let below = new Array(length).fill(0);
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const values = counts[lines[index]];
    below = below.map((sum, at) => sum + values[at]);
    sums.unshift(below);
  }
  return sums.map((values) => values.map((value) => (value > 0 ? value : null)));
}

export function bucketStarts(time, length) {
  const start = BigInt(time.start_ns);
  const width = BigInt(time.bucket_ns);
  return Array.from({ length }, (_, index) => Number((start + width * BigInt(index)) / 1000000n) / 1000);
}

export const utc = (seconds) => new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19);

const total = (lines, counts, at) => lines.reduce((sum, line) => sum + counts[line][at], 0);

// The numbers of the time chart: one row per bucket that holds events.
export function timeRows(chart) {
  const { lines, time } = chart;
  if (!lines.length) return [];
  const starts = bucketStarts(time, time.counts[lines[0]].length);
  const width = Number(BigInt(time.bucket_ns) / 1000000n) / 1000;
  return starts.flatMap((start, at) => {
    const sum = total(lines, time.counts, at);
    return sum ? [{ from: utc(start), until: utc(start + width), counts: lines.map((line) => time.counts[line][at]), total: sum }] : [];
  });
}

// The numbers of a bar chart (repositories, actors): one row per name, busiest first.
export function barRows(chart, which) {
  const { lines } = chart;
  const { names, counts } = chart[which];
  return names.map((name, at) => ({ name, counts: lines.map((line) => counts[line][at]), total: total(lines, counts, at) }));
}

function busiest(rows, key) {
  return rows.reduce((best, row) => (best === null || row.total > best.total ? row : best), null)?.[key];
}

// What each chart says in one sentence, for its accessible name.
export function summaries(chart) {
  const { lines } = chart;
  const parts = lines.map((line) => {
    const sum = chart.time.counts[line].reduce((a, b) => a + b, 0);
    return `${actionLabel(line)} ${sum}`;
  });
  const rows = timeRows(chart);
  const repositories = barRows(chart, "repositories");
  const actors = barRows(chart, "actors");
  const more = (count, what) => (count ? `, and ${count} more ${what}` : "");
  return {
    time: rows.length ? `${chart.total} events from ${rows[0].from} to ${rows[rows.length - 1].until} UTC: `
      + `${parts.join(", ")}; the busiest stretch from ${busiest(rows, "from")}.` : "No events.",
    repositories: repositories.length ? `${repositories.length} busiest repositories: `
      + `${repositories.map((row) => `${row.name} ${row.total}`).join(", ")}`
      + `${more(chart.repositories.more, "repositories")}.` : "No repositories.",
    actors: actors.length ? `Events per actor: ${actors.map((row) => `${actorName(row.name)} ${row.total}`).join(", ")}`
      + `${more(chart.actors.more, "actors")}.` : "No actors.",
  };
}
