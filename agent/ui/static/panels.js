// panels.js: the views beside the nodes: deployments (with scale), services
// with their endpoints (and lines drawn from each to the pod it reaches), and
// the event timeline with the failover entries.

import { el, svgEl, setData, setText, syncChildren } from './dom.js';
import { request, withButton, toast } from './api.js';
import { eventTime, clock } from './model.js';
import { failovers, failoverText } from './failover.js';

const byName = (a, b) => a.metadata.name.localeCompare(b.metadata.name);
const nsName = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;
const TIMELINE_MAX = 200;

// ---- deployments --------------------------------------------------------------

async function scale(box, button) {
  const input = box.querySelector('input.replicas');
  const n = Number(input.value);
  if (!Number.isInteger(n) || n < 0) {
    toast('Replicas is a whole number, 0 or more.');
    return;
  }
  const d = box.deployment.metadata;
  const done = await withButton(button, () => request(
    `/apis/apps/v1/namespaces/${encodeURIComponent(d.namespace)}/deployments/${encodeURIComponent(d.name)}/scale`,
    { method: 'PATCH', type: 'application/merge-patch+json', body: { spec: { replicas: n } } }));
  if (done !== undefined) delete input.dataset.dirty;
}

function createDeployment() {
  const input = el('input', { class: 'replicas', type: 'number', min: '0', step: '1', 'aria-label': 'replicas' });
  const button = el('button', { class: 'scale', type: 'button', text: 'scale' });
  const box = el('div', { class: 'deployment' },
    el('span', { class: 'dep-name' }), el('span', { class: 'dep-ready' }), input, button);
  // Typed but not yet sent: a re-render must not put the old number back.
  input.addEventListener('input', () => { input.dataset.dirty = '1'; });
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') scale(box, button); });
  button.addEventListener('click', () => scale(box, button));
  return box;
}

function updateDeployment(box, d) {
  box.deployment = d;
  const want = d.spec && d.spec.replicas !== undefined ? d.spec.replicas : 1;
  const ready = (d.status && d.status.readyReplicas) || 0;
  setData(box, 'deployment', d.metadata.name);
  setData(box, 'ready', ready === want ? 'true' : 'false');
  setText(box, '.dep-name', d.metadata.namespace === 'default' ? d.metadata.name : nsName(d));
  setText(box, '.dep-ready', `ready ${ready}/${want}`);
  const input = box.querySelector('input.replicas');
  if (!input.dataset.dirty && document.activeElement !== input) input.value = String(want);
}

export function renderDeployments(deployments) {
  syncChildren(document.querySelector('#deployments .list'), [...deployments].sort(byName),
    nsName, createDeployment, updateDeployment);
}

// ---- services -------------------------------------------------------------------

function portText(p) {
  let s = `${p.port}/${p.protocol || 'TCP'}`;
  if (p.targetPort !== undefined && p.targetPort !== p.port) s += ` -> ${p.targetPort}`;
  if (p.nodePort) s += ` (node port ${p.nodePort})`;
  return s;
}

function createService() {
  return el('div', { class: 'service' },
    el('div', { class: 'svc-head' }, el('span', { class: 'svc-name' }), el('span', { class: 'svc-type' })),
    el('div', { class: 'svc-addr' }),
    el('div', { class: 'svc-ports' }),
    el('div', { class: 'endpoints' }));
}

function updateService(box, { svc, ep }) {
  const spec = svc.spec || {};
  setData(box, 'service', svc.metadata.name);
  setText(box, '.svc-name', svc.metadata.namespace === 'default' ? svc.metadata.name : nsName(svc));
  setText(box, '.svc-type', spec.type || 'ClusterIP');
  const ingress = (((svc.status || {}).loadBalancer || {}).ingress || []).map((i) => i.ip || i.hostname);
  const addr = [spec.clusterIP ? `cluster IP ${spec.clusterIP}` : 'no cluster IP'];
  if (ingress.length) addr.push(`ingress ${ingress.join(', ')}`);
  setText(box, '.svc-addr', addr.join(', '));
  setText(box, '.svc-ports', (spec.ports || []).map(portText).join(', ') || 'no ports');
  // Ready addresses are the endpoints; the not-ready ones are shown apart.
  const entries = [];
  for (const sub of (ep && ep.subsets) || []) {
    for (const a of sub.addresses || []) entries.push({ a, ready: true });
    for (const a of sub.notReadyAddresses || []) entries.push({ a, ready: false });
  }
  const list = box.querySelector('.endpoints');
  syncChildren(list, entries,
    ({ a, ready }) => `${ready}/${a.ip}/${(a.targetRef && a.targetRef.name) || ''}`,
    ({ ready }) => el('span', { class: ready ? 'endpoint' : 'endpoint-not-ready' }),
    (span, { a }) => {
      const pod = a.targetRef && a.targetRef.kind !== 'Node' ? a.targetRef.name : '';
      setData(span, 'pod', pod || null);
      span.textContent = pod ? `${pod} ${a.ip}` : a.ip;
    });
  box.classList.toggle('no-endpoints', entries.length === 0);
}

export function renderServices(services, endpoints) {
  const eps = new Map(endpoints.map((e) => [nsName(e), e]));
  const items = [...services].sort(byName).map((svc) => ({ svc, ep: eps.get(nsName(svc)) }));
  syncChildren(document.querySelector('#services .list'), items,
    (i) => nsName(i.svc), createService, updateService);
}

// Lines from each ready endpoint to its pod's box, in an SVG laid over the
// page's main area (pointer-events: none in app.css, so clicks go through).
export function drawLines() {
  const area = document.getElementById('main');
  const svg = document.getElementById('lines');
  const base = area.getBoundingClientRect();
  svg.setAttribute('width', String(area.scrollWidth));
  svg.setAttribute('height', String(area.scrollHeight));
  const lines = [];
  for (const ep of document.querySelectorAll('#services .endpoint[data-pod]')) {
    const pod = document.querySelector(`#nodes .pod[data-pod="${CSS.escape(ep.dataset.pod)}"]`);
    if (!pod) continue;
    const a = ep.getBoundingClientRect();
    const b = pod.getBoundingClientRect();
    if (!a.width || !b.width) continue; // hidden
    lines.push(svgEl('line', {
      class: 'ep-line',
      x1: a.left - base.left, y1: a.top + a.height / 2 - base.top,
      x2: b.right - base.left, y2: b.top + b.height / 2 - base.top,
    }));
  }
  svg.replaceChildren(...lines);
}

// ---- timeline -------------------------------------------------------------------

function updateEvent(li, ev) {
  const inv = ev.involvedObject || {};
  setData(li, 'type', ev.type || 'Normal');
  setData(li, 'reason', ev.reason);
  li.querySelector('.ev-time').textContent = clock(eventTime(ev));
  li.querySelector('.ev-type').textContent = ev.type || 'Normal';
  li.querySelector('.ev-reason').textContent = ev.reason || '';
  li.querySelector('.ev-object').textContent = `${(inv.kind || '').toLowerCase()}/${inv.name || ''}`;
  const count = ev.count > 1 ? ` (x${ev.count})` : '';
  li.querySelector('.ev-message').textContent = (ev.message || '') + count;
}

function createEntry(item) {
  if (item.failover) {
    // Its text is exactly "failover NODE: N.N s" (what the tests read); the
    // time is drawn by app.css from data-time, outside the text.
    return el('li', { class: 'failover' });
  }
  return el('li', { class: 'event' },
    el('span', { class: 'ev-time' }), el('span', { class: 'ev-type' }), el('span', { class: 'ev-reason' }),
    el('span', { class: 'ev-object' }), el('span', { class: 'ev-message' }));
}

function updateEntry(li, item) {
  if (!item.failover) {
    updateEvent(li, item.ev);
    return;
  }
  const f = item.failover;
  setData(li, 'node', f.node);
  setData(li, 'time', clock(f.t0));
  setData(li, 'done', f.ms !== null ? 'true' : 'false');
  const text = failoverText(f);
  if (li.textContent !== text) li.textContent = text;
}

// Newest first: the events (the last TIMELINE_MAX) and the failovers.
export function renderTimeline(events) {
  // Reversed first: the map holds them oldest first, and the sort keeps the
  // order of events of the same second (timestamps carry whole seconds).
  const items = [...events].reverse().map((ev) => ({ t: eventTime(ev), key: `e/${ev.metadata.uid || nsName(ev)}`, ev }));
  items.sort((a, b) => b.t - a.t);
  items.length = Math.min(items.length, TIMELINE_MAX);
  failovers.forEach((f, i) => items.push({ t: f.t0, key: `f/${i}`, failover: f }));
  items.sort((a, b) => b.t - a.t);
  syncChildren(document.getElementById('timeline'), items, (i) => i.key, createEntry, updateEntry);
}
