// nodes.js: the layering itself: the host, one box per VM node, and the pods
// inside the node that runs them, with the node and pod actions (kill a node,
// delete a pod) beside what they act on.

import { el, setData, setText, syncChildren } from './dom.js';
import { request, withButton, setBlocked, toast } from './api.js';
import {
  nodeState, nodeIsDown, nodePhase, podIsReady, podStatus, podLastReason, podRestarts,
  requestsOf, quantity, fmtBytes, fmtCpu,
} from './model.js';

const byName = (a, b) => a.metadata.name.localeCompare(b.metadata.name);

export function renderHost(host) {
  const box = document.getElementById('host');
  if (!host) return;
  setText(box, '.host-name', host.hostname || 'host');
  setText(box, '.host-cpus', `${host.cpus} CPUs`);
  setText(box, '.host-mem',
    `memory ${fmtBytes(host.memoryBytes)} total, ${fmtBytes(host.memAvailableBytes)} available`);
  setText(box, '.host-accel', `accel ${host.accel || '?'}`);
  setText(box, '.host-accel-reason', host.accelReason || '');
  setText(box, '.host-kernel', host.kernel ? `kernel ${host.kernel}` : '');
  setData(box, 'accel', host.accel);
}

// ---- pods -------------------------------------------------------------------

function deletePod(pod, button) {
  const { name, namespace } = pod.metadata;
  if (!confirm(`Delete pod ${namespace}/${name}? Its deployment (if any) starts a replacement.`)) return;
  withButton(button, () =>
    request(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`,
      { method: 'DELETE' }));
}

function createPod(pod, openPod) {
  const del = el('button', { class: 'pod-delete', type: 'button', text: 'delete' });
  const box = el('div', { class: 'pod', tabindex: '0', role: 'button' },
    el('span', { class: 'pod-name' }),
    el('span', { class: 'pod-status' }),
    el('span', { class: 'pod-restarts' }),
    el('span', { class: 'pod-ip' }),
    del);
  // The box is rebuilt from the latest object: read it from the box, not
  // from the closure, which holds the first one.
  del.addEventListener('click', (e) => {
    e.stopPropagation();
    deletePod(box.podObject, del);
  });
  const open = () => openPod(box.podObject.metadata.namespace, box.podObject.metadata.name);
  box.addEventListener('click', open);
  box.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
  return box;
}

function updatePod(box, pod, lost) {
  box.podObject = pod;
  const st = pod.status || {};
  const status = podStatus(pod);
  const last = podLastReason(pod);
  setData(box, 'pod', pod.metadata.name);
  setData(box, 'namespace', pod.metadata.namespace);
  setData(box, 'ready', podIsReady(pod) ? 'true' : 'false');
  setData(box, 'phase', st.phase || 'Pending');
  setData(box, 'status', status);
  setData(box, 'lost', lost || st.reason === 'NodeLost' ? 'true' : null);
  box.title = `${pod.metadata.namespace}/${pod.metadata.name}: click for describe and log`;
  setText(box, '.pod-name', pod.metadata.name);
  setText(box, '.pod-status', last && last !== status ? `${status} (last: ${last})` : status);
  setText(box, '.pod-restarts', `restarts ${podRestarts(pod)}`);
  setText(box, '.pod-ip', st.podIP || 'no IP');
}

function syncPods(list, pods, lost, openPod) {
  syncChildren(list, pods,
    (p) => `${p.metadata.namespace}/${p.metadata.name}`,
    (p) => createPod(p, openPod),
    (box, p) => updatePod(box, p, lost));
}

// ---- nodes ------------------------------------------------------------------

function killNode(name, button) {
  if (!confirm(`Kill node ${name}? Its VM is destroyed at once (a simulated node loss); its pods are replaced on the other nodes.`)) return;
  withButton(button, () =>
    request(`/api/v1/nodes/${encodeURIComponent(name)}/kill`, { method: 'POST' }));
}

function meter(cls) {
  return el('meter', { class: cls, min: '0', max: '1', value: '0' });
}

function createNode(node) {
  const kill = el('button', { class: 'node-kill', type: 'button', text: 'kill' });
  const box = el('section', { class: 'node' },
    el('header', { class: 'node-head' },
      el('span', { class: 'node-name' }),
      el('span', { class: 'node-state' }),
      kill),
    el('div', { class: 'node-facts' },
      el('span', { class: 'node-accel' }),
      el('span', { class: 'node-boot' }),
      el('span', { class: 'node-capacity' }),
      el('span', { class: 'node-use' }),
      el('span', { class: 'node-meters' }, 'cpu ', meter('node-cpu-use'), ' mem ', meter('node-mem-use'))),
    el('div', { class: 'pods' }));
  kill.addEventListener('click', () => killNode(box.dataset.node, kill));
  return box;
}

function updateNode(box, node, pods, openPod) {
  const st = node.status || {};
  const strata = st.strata || {};
  const state = nodeState(node);
  const phase = nodePhase(node);
  const down = nodeIsDown(node);
  setData(box, 'node', node.metadata.name);
  setData(box, 'state', state);
  box.classList.toggle('dead', down);
  setText(box, '.node-name', node.metadata.name);
  const ready = (st.conditions || []).find((c) => c.type === 'Ready');
  const why = down && ready && ready.message ? `: ${ready.message}` : '';
  setText(box, '.node-state', (phase && phase !== state ? `${state} (${phase})` : state) + why);
  setText(box, '.node-accel', strata.accel
    ? `accel ${strata.accel}${strata.accelReason ? ` (${strata.accelReason})` : ''}` : 'accel ?');
  setText(box, '.node-boot', strata.bootMillis ? `boot ${strata.bootMillis} ms` : 'booting');
  const cap = st.capacity || {};
  const cpu = quantity(cap.cpu);
  const mem = quantity(cap.memory);
  setText(box, '.node-capacity', `capacity ${fmtCpu(cpu)} CPU, ${fmtBytes(mem)}`);
  const use = requestsOf(pods);
  setText(box, '.node-use', `requested ${fmtCpu(use.cpu)} CPU, ${fmtBytes(use.memory)}`);
  const cpuMeter = box.querySelector('.node-cpu-use');
  const memMeter = box.querySelector('.node-mem-use');
  cpuMeter.max = cpu > 0 ? cpu : 1;
  cpuMeter.value = use.cpu;
  memMeter.max = mem > 0 ? mem : 1;
  memMeter.value = use.memory;
  const gone = phase === 'Dead' || phase === 'Removing' || phase === 'Failed';
  setBlocked(box.querySelector('.node-kill'), gone ? `node ${node.metadata.name} is ${phase}: there is no VM to kill` : null);
  syncPods(box.querySelector('.pods'), pods, down, openPod);
}

// Nodes with their pods; pods of no (known) node go in #unscheduled.
export function renderNodes(nodes, pods, openPod) {
  const byNode = new Map(nodes.map((n) => [n.metadata.name, []]));
  const unscheduled = [];
  for (const p of [...pods].sort(byName)) {
    const list = byNode.get((p.spec && p.spec.nodeName) || '');
    (list || unscheduled).push(p);
  }
  syncChildren(document.getElementById('nodes'), [...nodes].sort(byName),
    (n) => n.metadata.name, createNode,
    (box, n) => updateNode(box, n, byNode.get(n.metadata.name), openPod));
  const un = document.getElementById('unscheduled');
  syncPods(un.querySelector('.pods'), unscheduled, false, openPod);
  un.classList.toggle('empty', unscheduled.length === 0);
}

// ---- add a node -------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function setupNodeAdd() {
  const form = document.getElementById('node-add-form');
  const input = document.getElementById('node-add-name');
  const button = document.getElementById('node-add');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!DNS_LABEL.test(name)) {
      toast('A node name is a DNS label: lower-case letters, digits and "-", at most 63, starting and ending with a letter or digit.');
      return;
    }
    const made = await withButton(button, () => request('/api/v1/nodes', {
      method: 'POST',
      body: { metadata: { name }, spec: { cpus: 1, memoryMiB: 192, accel: 'auto' } },
    }));
    if (made) input.value = '';
  });
}
