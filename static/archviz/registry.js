// The registry audit page: local times, human sizes, and the chart of pushes and pulls per repository.

import { humanSize } from "./format.js";
import { node } from "./svg.js";

const LINES = [["push", "pushes"], ["pull", "downloads"], ["check", "existence checks"]];

function localTime(timeNs) {
  return new Date(Number(BigInt(timeNs) / 1000000n)).toISOString().replace("T", " ").slice(0, 23);
}

// One small bar chart per repository: a group of three bars (push, download, check) per time bucket.
function drawChart(figure, data) {
  const body = figure.querySelector(".chart-body");
  if (!data.series.length) {
    figure.hidden = true;
    return;
  }
  const peak = Math.max(1, ...data.series.flatMap((s) => LINES.flatMap(([line]) => s[line])));
  const buckets = data.series[0].push.length;
  const width = 560;
  const height = 90;
  const slot = width / buckets;
  const start = BigInt(data.start_ns);
  const step = BigInt(data.bucket_ns);
  const legend = document.createElement("p");
  legend.className = "chart-legend";
  for (const [line, label] of LINES) {
    const key = document.createElement("span");
    key.className = `key ${line}`;
    key.textContent = label;
    legend.append(key);
  }
  body.replaceChildren(legend);
  for (const series of data.series) {
    const svg = node("svg", { class: "repository-chart", viewBox: `0 0 ${width} ${height + 18}`, role: "img" });
    svg.append(node("title", {}, `${series.repository}: pushes, downloads and existence checks over time`));
    LINES.forEach(([line, label], offset) => {
      series[line].forEach((count, index) => {
        if (!count) return;
        const barHeight = (count / peak) * height;
        const bar = node("rect", {
          class: `bar ${line}`, x: index * slot + offset * (slot / 3), y: height - barHeight,
          width: Math.max(slot / 3 - 1, 1), height: barHeight,
        });
        const from = localTime(start + step * BigInt(index));
        bar.append(node("title", {}, `${count} ${label} from ${from}`));
        svg.append(bar);
      });
    });
    svg.append(node("text", { x: 2, y: height + 14, class: "chart-label" }, series.repository));
    body.append(svg);
  }
}

for (const cell of document.querySelectorAll("td.time[data-time-ns]")) cell.textContent = localTime(cell.dataset.timeNs);
for (const cell of document.querySelectorAll("td.size[data-bytes]")) cell.textContent = humanSize(cell.dataset.bytes);
const figure = document.querySelector(".audit-chart");
if (figure) {
  fetch(figure.dataset.chart)
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(response.statusText))))
    .then((data) => drawChart(figure, data))
    .catch(() => { figure.hidden = true; });
}
