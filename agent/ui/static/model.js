// model.js: what the page reads out of Kubernetes objects (a node's state, a
// pod's status as kubectl prints it, requests in millicores and bytes). Pure
// functions of the objects, no DOM, so every view says the same thing.

export function condition(obj, type) {
  return ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);
}

export function nodePhase(node) {
  const st = node.status || {};
  return (st.strata && st.strata.phase) || st.phase || '';
}

// Ready|NotReady|Unknown|Dead|Provisioning, as data-state carries it.
export function nodeState(node) {
  const phase = nodePhase(node);
  if (phase === 'Dead') return 'Dead';
  const ready = condition(node, 'Ready');
  if (ready && ready.status === 'True') return 'Ready';
  if (ready && ready.status === 'Unknown') return 'Unknown';
  if (!ready || phase === 'Provisioning') return 'Provisioning';
  return 'NotReady';
}

// A node whose pods can no longer be counted on (their replicas move).
export function nodeIsDown(node) {
  const s = nodeState(node);
  return s === 'Dead' || s === 'NotReady' || s === 'Unknown';
}

export function podIsReady(pod) {
  const c = condition(pod, 'Ready');
  return Boolean(c && c.status === 'True') && !pod.metadata.deletionTimestamp;
}

function isTerminal(pod) {
  const phase = (pod.status && pod.status.phase) || '';
  return phase === 'Succeeded' || phase === 'Failed';
}

// The STATUS column of kubectl get pods (agent/manifest/printers.c does the
// same for stratactl): a container's waiting or terminated reason wins over
// the phase, the first container's over the others.
export function podStatus(pod) {
  const st = pod.status || {};
  let reason = st.reason || st.phase || 'Pending';
  let runningReady = false;
  const statuses = st.containerStatuses || [];
  for (let i = statuses.length - 1; i >= 0; i--) {
    const state = statuses[i].state || {};
    if (state.waiting && state.waiting.reason) reason = state.waiting.reason;
    else if (state.terminated) {
      const t = state.terminated;
      if (t.reason) reason = t.reason;
      else if (t.signal) reason = `Signal:${t.signal}`;
      else reason = `ExitCode:${t.exitCode || 0}`;
    } else if (statuses[i].ready && state.running) runningReady = true;
  }
  if (reason === 'Completed' && runningReady) {
    const c = condition(pod, 'Ready');
    reason = c && c.status === 'True' ? 'Running' : 'NotReady';
  }
  if (pod.metadata.deletionTimestamp) reason = st.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

// Why the last run of a container ended (OOMKilled behind a CrashLoopBackOff).
export function podLastReason(pod) {
  for (const cs of (pod.status && pod.status.containerStatuses) || []) {
    const t = cs.lastState && cs.lastState.terminated;
    if (t && t.reason) return t.reason;
  }
  return '';
}

export function podRestarts(pod) {
  return ((pod.status && pod.status.containerStatuses) || [])
    .reduce((n, cs) => n + (cs.restartCount || 0), 0);
}

// A quantity ("250m", "1", "192Mi", "1G", "2e3") as a number of units
// (cores or bytes). NaN for what does not parse.
export function quantity(q) {
  if (q === undefined || q === null) return NaN;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(String(q).trim());
  if (!m) return NaN;
  const mult = {
    m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  };
  return parseFloat(m[1]) * (m[2] ? mult[m[2]] : 1);
}

// The sum of the requests of the pods that hold room on a node.
export function requestsOf(pods) {
  let cpu = 0;
  let memory = 0;
  for (const pod of pods) {
    if (isTerminal(pod)) continue;
    for (const c of (pod.spec && pod.spec.containers) || []) {
      const req = (c.resources && c.resources.requests) || {};
      cpu += quantity(req.cpu) || 0;
      memory += quantity(req.memory) || 0;
    }
  }
  return { cpu, memory };
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return '?';
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GiB`;
  return `${Math.round(n / 2 ** 20)} MiB`;
}

export function fmtCpu(cores) {
  if (!Number.isFinite(cores)) return '?';
  return Number.isInteger(cores) ? `${cores}` : `${Math.round(cores * 1000)}m`;
}

// The deployment that controls a pod ("namespace/name"), or ''.
export function podOwner(pod) {
  const ref = (pod.metadata.ownerReferences || []).find((r) => r.kind === 'Deployment');
  return ref ? `${pod.metadata.namespace || ''}/${ref.name}` : '';
}

export function eventTime(ev) {
  const t = ev.lastTimestamp || ev.eventTime || ev.firstTimestamp ||
    (ev.metadata && ev.metadata.creationTimestamp);
  const ms = Date.parse(t || '');
  return Number.isNaN(ms) ? 0 : ms;
}

export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}
