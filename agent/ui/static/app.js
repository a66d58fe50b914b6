// app.js: the Strata dashboard (issue 16): the host, its VM nodes, their
// pods and the Services, kept live from the Kubernetes API's watches, with
// the actions the CLI has and failovers timed as they happen.
//
// THE RULE: API data never goes through innerHTML, outerHTML,
// insertAdjacentHTML or any other HTML parser. Elements are built with
// dom.js and text is set with textContent, so a pod named or logging
// <script> shows as text. (The Content-Security-Policy also forbids inline
// scripts and styles: no <script> blocks, no style="", no eval.)
//
// Why only five watches: the browser opens at most 6 HTTP/1.1 connections to
// one host, and each watch holds one. Nodes, pods, deployments, endpoints and
// events are watched; one connection stays free for everything else (the log,
// describe, actions). Services change only when someone writes them, so they
// are listed again when that can have happened: when an Endpoints object
// comes or goes (stratad makes one for each Service), when an event names a
// Service, after an apply from this page, and whenever the endpoints watch
// starts over.

import { request, setUnauthorizedHandler, withButton, toast } from './api.js';
import { Watch } from './watch.js';
import { renderHost, renderNodes, setupNodeAdd } from './nodes.js';
import { renderDeployments, renderServices, renderTimeline, drawLines } from './panels.js';
import { openPod, updateDetail, closeDetail, setupDetail } from './detail.js';
import { loadChart } from './chart.js';
import * as failover from './failover.js';

const HOST_EVERY_MS = 10000;
const EVENTS_KEPT = 400; // the timeline shows 200; a few more survive a burst

const state = {
  watches: null, // {nodes, pods, deployments, endpoints, events}
  services: [],
  host: null,
  hostTimer: 0,
  servicesTimer: 0,
  frame: 0,
};

const $ = (id) => document.getElementById(id);

// ---- rendering, at most once a frame --------------------------------------------

function values(w) {
  return [...w.items.values()];
}

function render() {
  state.frame = 0;
  const w = state.watches;
  if (!w) return;
  renderHost(state.host);
  const pods = values(w.pods);
  renderNodes(values(w.nodes), pods, (ns, name) => openPod(ns, name, w.pods.items));
  renderDeployments(values(w.deployments));
  renderServices(state.services, values(w.endpoints));
  renderTimeline(values(w.events));
  updateDetail(w.pods.items);
  drawLines();
}

function scheduleRender() {
  if (!state.frame) state.frame = requestAnimationFrame(render);
}

// ---- connection banner ------------------------------------------------------------

function showConn() {
  const conn = $('conn');
  const all = Object.values(state.watches || {});
  const down = all.filter((w) => !w.up);
  if (down.length === 0) {
    conn.dataset.state = 'live';
    conn.textContent = 'live';
    conn.removeAttribute('title');
    return;
  }
  conn.dataset.state = 'reconnecting';
  const waiting = down.filter((w) => w.retryIn > 0);
  if (waiting.length === 0) {
    conn.textContent = 'connecting to stratad...';
    return;
  }
  const s = Math.round(Math.min(...waiting.map((w) => w.retryIn)) / 1000);
  conn.textContent = `reconnecting to stratad in ${s} s...`;
  conn.title = waiting.map((w) => `${w.path}: ${w.why}`).join('\n');
}

// ---- the data ---------------------------------------------------------------------

async function loadHost() {
  try {
    state.host = await request('/strata/v1/host');
    scheduleRender();
  } catch (e) {
    $('host').querySelector('.host-accel-reason').textContent = `cannot read the host: ${e.message}`;
  }
}

async function loadServices() {
  try {
    const list = await request('/api/v1/services');
    state.services = list.items || [];
    scheduleRender();
  } catch (_) {
    // 401 went to the login; otherwise the endpoints watch's next start retries.
  }
}

// Many triggers in a burst (a whole apply): one list.
function servicesChanged() {
  clearTimeout(state.servicesTimer);
  state.servicesTimer = setTimeout(loadServices, 300);
}

function onChange(kind, watch, type, obj) {
  const w = state.watches;
  if (kind === 'nodes') failover.noteNodes(values(watch));
  if (kind === 'endpoints' && type !== 'MODIFIED') servicesChanged();
  if (kind === 'events') {
    if (obj && obj.involvedObject && obj.involvedObject.kind === 'Service') servicesChanged();
    // Oldest first in the map: drop from the front.
    for (const k of watch.items.keys()) {
      if (watch.items.size <= EVENTS_KEPT) break;
      watch.items.delete(k);
    }
  } else {
    // At the event, not at the next frame: a hidden tab draws no frames,
    // and the time measured must not wait for one.
    failover.check(values(w.deployments), values(w.pods), values(w.nodes));
  }
  scheduleRender();
}

function startWatches() {
  const paths = {
    nodes: '/api/v1/nodes',
    pods: '/api/v1/pods',
    deployments: '/apis/apps/v1/deployments',
    endpoints: '/api/v1/endpoints',
    events: '/api/v1/events',
  };
  state.watches = {};
  for (const [kind, path] of Object.entries(paths)) {
    state.watches[kind] = new Watch(path, (w, type, obj) => onChange(kind, w, type, obj), showConn);
  }
  showConn();
  for (const w of Object.values(state.watches)) w.start();
}

// ---- login and the app ------------------------------------------------------------

function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
  failover.reset();
  startWatches();
  loadServices();
  loadHost();
  state.hostTimer = setInterval(loadHost, HOST_EVERY_MS);
  loadChart();
}

// Back to the login: stop every watch and forget what was shown.
function showLogin(note) {
  if (state.watches) for (const w of Object.values(state.watches)) w.stop();
  state.watches = null;
  state.services = [];
  state.host = null;
  clearInterval(state.hostTimer);
  clearTimeout(state.servicesTimer);
  closeDetail();
  for (const id of ['nodes', 'timeline']) $(id).replaceChildren();
  for (const sel of ['#unscheduled .pods', '#deployments .list', '#services .list', '#lines']) {
    document.querySelector(sel).replaceChildren();
  }
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-note').textContent = note || '';
  $('token').focus();
}

async function login(e) {
  e.preventDefault();
  const error = $('login-error');
  error.textContent = '';
  const ok = await withButton($('login-submit'), async () => {
    try {
      await request('/ui/login', { method: 'POST', body: { token: $('token').value }, no401: true });
      return true;
    } catch (err) {
      error.textContent = err.status === 401
        ? `The token was refused: ${err.message}` : `Cannot log in: ${err.message}`;
      return false;
    }
  });
  if (!ok) return;
  $('token').value = '';
  showApp();
}

async function logout() {
  try {
    await request('/ui/logout', { method: 'POST', no401: true });
  } catch (e) {
    toast(e.message);
  }
  showLogin('Logged out.');
}

async function applyManifest() {
  const out = $('apply-result');
  const text = $('apply-text').value;
  if (!text.trim()) {
    out.textContent = 'Paste a manifest (YAML, documents separated by ---) first.';
    return;
  }
  out.textContent = '';
  const res = await withButton($('apply-submit'), async () => {
    try {
      return await request('/apply', { method: 'POST', type: 'application/yaml', body: text });
    } catch (e) {
      out.textContent = `error: ${e.message}`;
      throw e;
    }
  });
  if (!res) return;
  out.textContent = (res.items || [])
    .map((i) => `${(i.kind || '').toLowerCase()}/${i.name}${i.namespace ? ` (${i.namespace})` : ''} ${i.action}`)
    .join('\n') || 'nothing to apply';
  servicesChanged();
}

async function start() {
  setUnauthorizedHandler((note) => { if (!$('app').hidden) showLogin(note); });
  $('login').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('apply-submit').addEventListener('click', applyManifest);
  $('startup-reload').addEventListener('click', loadChart);
  setupNodeAdd();
  setupDetail();
  window.addEventListener('resize', scheduleRender);
  try {
    await request('/ui/session', { no401: true });
    showApp();
  } catch (e) {
    showLogin(e.status === 401 ? '' : e.message);
  }
}

start();
