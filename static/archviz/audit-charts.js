// The audit page's three charts, drawn with uPlot (static/vendor/uplot, served by the dashboard): events over time
// by action, stacked; the busiest repositories; the actors. Each figure says in a sentence what it shows (its
// accessible name) and keeps its numbers in a table under a <details>. The data come from audit-charts-data.js.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import {
  actionColour, actionLabel, actorName, barRows, bucketStarts, stacked, summaries, timeRows, utc,
} from "./audit-charts-data.js";

const SELECTORS = {
  empty: ".charts-empty", figures: ".audit-chart[data-chart]", plot: ".chart-plot", numbers: ".chart-numbers",
  figure: (name) => `.audit-chart[data-chart="${name}"]`,
};
const HEIGHT = { time: 180, repositories: 180, actors: 180 };
const LABEL_CHARACTERS = 18;
// Whole numbers only on the count axes.
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 1000000];
const AXIS = { stroke: "#5b6475", font: "12px system-ui, sans-serif", grid: { stroke: "#e6e9ef", width: 1 } };

const plots = new Map(); // chart name -> uPlot
const bars = uPlot.paths.bars;

function shortName(name) {
  return name.length > LABEL_CHARACTERS ? `${name.slice(0, LABEL_CHARACTERS - 1)}…` : name;
}

function countAxis(side) {
  return { ...AXIS, side, incrs: COUNT_STEPS, values: (u, values) => values.map(String), size: 44 };
}

function actionSeries(lines, raw, pathOptions) {
  return lines.map((line, index) => ({
    label: actionLabel(line),
    fill: actionColour(line), stroke: actionColour(line), width: 0,
    paths: bars(pathOptions), points: { show: false },
    // The legend names each action's own count, not the stacked sum drawn.
    value: (u, value, series, at) => (at === null || at === undefined ? "" : String(raw[index][at])),
  }));
}

function timeOptions(chart, width) {
  const { lines, time } = chart;
  const length = time.counts[lines[0]].length;
  const starts = bucketStarts(time, length);
  const step = length > 1 ? starts[1] - starts[0] : Number(BigInt(time.bucket_ns) / 1000000n) / 1000;
  const raw = lines.map((line) => time.counts[line]);
  return {
    data: [starts, ...stacked(lines, time.counts)],
    options: {
      width, height: HEIGHT.time,
      tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
      scales: { x: { time: true, range: [starts[0], starts[0] + step * length] },
                y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      series: [{ label: "from (UTC)", value: (u, seconds) => (seconds === null ? "" : utc(seconds)) },
               ...actionSeries(lines, raw, { align: 1, size: [1, Infinity], gap: 1 })],
      axes: [{ ...AXIS }, countAxis(3)],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
    },
  };
}

function barOptions(chart, which, width) {
  const { lines } = chart;
  const { names, counts } = chart[which];
  const label = which === "actors" ? actorName : (name) => name;
  const raw = lines.map((line) => counts[line]);
  return {
    data: [names.map((_, index) => index), ...stacked(lines, counts)],
    options: {
      width, height: Math.max(HEIGHT[which], names.length * 20 + 40),
      scales: { x: { time: false, ori: 1, dir: -1, range: [-0.5, names.length - 0.5] },
                y: { ori: 0, range: (u, min, max) => [0, Math.max(1, max)] } },
      series: [{ label: which === "actors" ? "actor" : "repository",
                 value: (u, at) => (at === null ? "" : label(names[at])) },
               ...actionSeries(lines, raw, { size: [0.7, 26] })],
      axes: [
        { ...AXIS, side: 3, size: 140, grid: { show: false }, ticks: { show: false },
          splits: () => names.map((_, index) => index),
          values: (u, splits) => splits.map((at) => shortName(label(names[at]) ?? "")) },
        countAxis(2),
      ],
      cursor: { drag: { x: false, y: false }, points: { show: false } },
    },
  };
}

function cell(tag, text, attributes = {}) {
  const element = document.createElement(tag);
  element.textContent = text;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

// A link that narrows the page's filter to one repository or actor (and starts again from the newest page).
function filterLink(name, value, text) {
  const query = new URLSearchParams(location.search);
  query.set(name, value);
  query.delete("before");
  const link = cell("a", text, { href: `?${query}` });
  return link;
}

function fillTable(table, head, rows) {
  const thead = document.createElement("thead");
  const headRow = document.createElement("tr");
  headRow.append(...head.map((text) => cell("th", text, { scope: "col" })));
  thead.append(headRow);
  const tbody = document.createElement("tbody");
  for (const row of rows) {
    const line = document.createElement("tr");
    const [first, ...rest] = row;
    const heading = cell("th", "", { scope: "row" });
    heading.append(first);
    line.append(heading, ...rest.map((value) => cell("td", String(value), { class: "count" })));
    tbody.append(line);
  }
  table.replaceChildren(...(table.caption ? [table.caption] : []), thead, tbody);
}

function numbers(chart) {
  const head = chart.lines.map(actionLabel);
  return {
    time: [["from (UTC)", ...head, "total"],
           timeRows(chart).map((row) => [`${row.from} to ${row.until.slice(11)}`, ...row.counts, row.total])],
    repositories: [["repository", ...head, "total"], barRows(chart, "repositories").map((row) => [
      filterLink("repository", row.name, row.name), ...row.counts, row.total])],
    actors: [["actor", ...head, "total"], barRows(chart, "actors").map((row) => [
      filterLink("actor", row.name, actorName(row.name)), ...row.counts, row.total])],
  };
}

function draw(name, figure, built) {
  plots.get(name)?.destroy();
  const plot = figure.querySelector(SELECTORS.plot);
  plot.replaceChildren();
  plots.set(name, new uPlot(built.options, built.data, plot));
}

export function drawCharts(section, chart) {
  const empty = chart.total === 0;
  section.querySelector(SELECTORS.empty).hidden = !empty;
  for (const figure of section.querySelectorAll(SELECTORS.figures)) figure.hidden = empty;
  if (empty) {
    for (const plot of plots.values()) plot.destroy();
    plots.clear();
    return;
  }
  const said = summaries(chart);
  const tables = numbers(chart);
  for (const name of ["time", "repositories", "actors"]) {
    const figure = section.querySelector(SELECTORS.figure(name));
    const width = Math.max(240, figure.querySelector(SELECTORS.plot).clientWidth);
    draw(name, figure, name === "time" ? timeOptions(chart, width) : barOptions(chart, name, width));
    figure.querySelector(SELECTORS.plot).setAttribute("aria-label", said[name]);
    fillTable(figure.querySelector(SELECTORS.numbers), ...tables[name]);
  }
}

// Charts follow their figure's width (the window's).
export function resizeCharts(section) {
  for (const [name, plot] of plots) {
    const width = section.querySelector(SELECTORS.figure(name)).querySelector(SELECTORS.plot).clientWidth;
    if (width && width !== plot.width) plot.setSize({ width, height: plot.height });
  }
}
