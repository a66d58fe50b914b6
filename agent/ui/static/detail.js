// detail.js: the panel a click on a pod opens: a describe-like text (what
// `stratactl describe pod` tells: node, IP, conditions, each container's
// state and why it last stopped, the pod's events) and the tail of its log.

import { request, withButton, ApiError } from './api.js';
import { podStatus, eventTime, clock } from './model.js';

let current = null; // {ns, name, pod (last seen), events}

const podPath = (ns, name) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;

function stateText(state) {
  if (!state) return 'unknown';
  if (state.running) return `Running${state.running.startedAt ? ` since ${state.running.startedAt}` : ''}`;
  if (state.waiting) return `Waiting (${state.waiting.reason || '?'})${state.waiting.message ? `: ${state.waiting.message}` : ''}`;
  const t = state.terminated;
  if (t) return `Terminated (${t.reason || 'no reason'}, exit code ${t.exitCode ?? '?'}${t.signal ? `, signal ${t.signal}` : ''})`;
  return 'unknown';
}

function describe(pod, events, gone) {
  const md = pod.metadata;
  const st = pod.status || {};
  const spec = pod.spec || {};
  const lines = [];
  const row = (k, v, indent = '') => lines.push(`${indent}${`${k}:`.padEnd(16)}${v}`);
  if (gone) lines.push('(this pod is gone: what it last showed)', '');
  row('Name', md.name);
  row('Namespace', md.namespace);
  row('Node', spec.nodeName || '<none>');
  row('IP', st.podIP || '<none>');
  row('Status', podStatus(pod));
  row('Phase', st.phase || 'Pending');
  if (st.reason || st.message) row('Reason', `${st.reason || ''} ${st.message || ''}`.trim());
  if (md.deletionTimestamp) row('Terminating', `since ${md.deletionTimestamp}`);
  const owner = (md.ownerReferences || []).map((r) => `${r.kind}/${r.name}`).join(', ');
  if (owner) row('Controlled By', owner);
  lines.push('Conditions:');
  for (const c of st.conditions || []) row(c.type, `${c.status}${c.reason ? ` (${c.reason})` : ''}`, '  ');
  lines.push('Containers:');
  const statuses = new Map((st.containerStatuses || []).map((cs) => [cs.name, cs]));
  for (const c of spec.containers || []) {
    const cs = statuses.get(c.name) || {};
    lines.push(`  ${c.name}:`);
    row('Image', c.image || '', '    ');
    row('State', stateText(cs.state), '    ');
    if (cs.lastState && Object.keys(cs.lastState).length) row('Last State', stateText(cs.lastState), '    ');
    row('Ready', cs.ready ? 'True' : 'False', '    ');
    row('Restart Count', String(cs.restartCount || 0), '    ');
    const req = (c.resources && c.resources.requests) || {};
    if (req.cpu || req.memory) row('Requests', `cpu ${req.cpu || '-'}, memory ${req.memory || '-'}`, '    ');
  }
  lines.push('Events:');
  if (events === null) lines.push('  (loading)');
  else if (typeof events === 'string') lines.push(`  ${events}`);
  else if (events.length === 0) lines.push('  <none>');
  for (const ev of Array.isArray(events) ? events : []) {
    lines.push(`  ${clock(eventTime(ev))}  ${(ev.type || '').padEnd(8)}${(ev.reason || '').padEnd(18)}${ev.message || ''}`);
  }
  return lines.join('\n');
}

function show() {
  if (!current) return;
  document.getElementById('pod-detail-title').textContent = `${current.ns}/${current.name}`;
  const text = current.pod
    ? describe(current.pod, current.events, current.gone)
    : `pod ${current.ns}/${current.name} is not known (yet)`;
  const pre = document.getElementById('pod-describe');
  if (pre.textContent !== text) pre.textContent = text; // unchanged: keep a selection
}

async function loadEvents() {
  const c = current;
  const sel = encodeURIComponent(`involvedObject.name=${c.name}`);
  try {
    const list = await request(`/api/v1/namespaces/${encodeURIComponent(c.ns)}/events?fieldSelector=${sel}`);
    c.events = (list.items || []).sort((a, b) => eventTime(a) - eventTime(b));
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    c.events = `cannot read events: ${e.message}`;
  }
  if (c === current) show();
}

async function loadLog() {
  const c = current;
  const pre = document.getElementById('pod-log');
  let text;
  try {
    text = await request(`${podPath(c.ns, c.name)}/log?tailLines=100`, { text: true });
    if (!text) text = '(the log is empty)';
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    text = `cannot read the log: ${e.message}`;
  }
  if (c === current) pre.textContent = text; // textContent: a logged <script> stays text
}

export function openPod(ns, name, pods) {
  current = { ns, name, pod: pods.get(`${ns}/${name}`) || null, events: null, gone: false };
  document.getElementById('pod-log').textContent = '(loading)';
  document.getElementById('pod-detail').hidden = false;
  for (const p of document.querySelectorAll('.pod.selected')) p.classList.remove('selected');
  show();
  loadEvents();
  loadLog();
}

// Keeps the describe text current as the pod's watch changes it.
export function updateDetail(pods) {
  if (!current) return;
  const pod = pods.get(`${current.ns}/${current.name}`);
  if (pod) current.pod = pod;
  current.gone = !pod && current.pod !== null;
  for (const box of document.querySelectorAll('.pod')) {
    box.classList.toggle('selected',
      box.dataset.pod === current.name && box.dataset.namespace === current.ns);
  }
  show();
}

export function closeDetail() {
  current = null;
  document.getElementById('pod-detail').hidden = true;
  for (const p of document.querySelectorAll('.pod.selected')) p.classList.remove('selected');
}

export function setupDetail() {
  document.getElementById('pod-detail-close').addEventListener('click', closeDetail);
  const refresh = document.getElementById('pod-log-refresh');
  refresh.addEventListener('click', () => {
    if (current) withButton(refresh, () => Promise.all([loadLog(), loadEvents()]));
  });
}
