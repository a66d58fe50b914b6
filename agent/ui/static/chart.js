// chart.js: the start-up comparison (`stratactl bench startup`: VM node,
// restored node, container in a VM, crun in a VM, container on the host) as
// horizontal bars of each median with a whisker to its 90th percentile. The
// SVG the CLI writes is linked beside it (#startup-svg); both read the same
// results stratad keeps.

import { svgEl, el } from './dom.js';
import { request, ApiError } from './api.js';

const LABEL_W = 190;
const BAR_W = 360;
const VALUE_W = 250; // room for "4.20 s (p90 5.10 s, 5 runs)"
const ROW_H = 26;

function niceMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

function draw(res) {
  const rows = res.rows || [];
  const max = Math.max(1, ...rows.map((r) => Math.max(r.p90Ms || 0, r.medianMs || 0)));
  const scale = (ms) => (BAR_W * ms) / max;
  const height = rows.length * ROW_H + 10;
  const svg = svgEl('svg', {
    class: 'chart', viewBox: `0 0 ${LABEL_W + BAR_W + VALUE_W} ${height}`, role: 'img',
    'aria-label': 'start-up times, median with a whisker to p90',
  });
  rows.forEach((r, i) => {
    const y = 5 + i * ROW_H;
    const mid = y + (ROW_H - 6) / 2;
    const x90 = LABEL_W + scale(r.p90Ms || r.medianMs || 0);
    svg.append(
      svgEl('text', { class: 'chart-label', x: LABEL_W - 8, y: mid + 4, text: r.name }),
      svgEl('rect', { class: 'chart-bar', x: LABEL_W, y, width: Math.max(1, scale(r.medianMs || 0)), height: ROW_H - 6 }),
      svgEl('line', { class: 'chart-whisker', x1: LABEL_W + scale(r.medianMs || 0), y1: mid, x2: x90, y2: mid }),
      svgEl('line', { class: 'chart-whisker', x1: x90, y1: mid - 5, x2: x90, y2: mid + 5 }),
      svgEl('text', {
        class: 'chart-value', x: x90 + 6, y: mid + 4,
        text: `${niceMs(r.medianMs || 0)} (p90 ${niceMs(r.p90Ms || 0)}, ${r.runs || 0} runs)`,
      }));
  });
  return svg;
}

export async function loadChart() {
  const box = document.getElementById('startup-chart');
  try {
    const res = await request('/strata/v1/bench/startup');
    const when = res.when ? `measured ${res.when}` : '';
    box.replaceChildren(draw(res),
      el('p', { class: 'chart-note', text: [when, res.accel ? `accel ${res.accel}` : ''].filter(Boolean).join(', ') }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    const text = e instanceof ApiError && e.status === 404
      ? 'no results yet: run stratactl bench startup'
      : `cannot read the start-up results: ${e.message}`;
    box.replaceChildren(el('p', { class: 'chart-empty', text }));
  }
}
