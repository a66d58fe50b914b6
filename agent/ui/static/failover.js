// failover.js: times a failover while the page watches it. It starts when a
// node the page saw Ready turns Dead, NotReady or Unknown, and ends when every
// deployment again has all its replicas ready, none of them on a node that is
// down.
//
// t0 is the page's clock when the node's watch event arrives, not the NodeLost
// event's timestamp: events carry whole seconds, which would add up to a
// second of error, and stratad writes the node's Dead state before its
// NodeLost event, so the node's change is the earlier of the two anyway. A
// node that was already down when the page opened starts no failover (its
// start was not seen).

import { nodeState, nodeIsDown, nodePhase, podIsReady, podOwner } from './model.js';

const seen = new Map(); // node name -> its last state
export const failovers = []; // {node, t0, ms (null while in progress)}

export function reset() {
  seen.clear();
  failovers.length = 0;
}

// Called with the nodes after every node change; returns true when one began.
export function noteNodes(nodes) {
  let began = false;
  for (const n of nodes) {
    const name = n.metadata.name;
    const state = nodeState(n);
    const was = seen.get(name);
    seen.set(name, state);
    // A node being removed on purpose (phase Removing) is no failover.
    if (was === 'Ready' && nodeIsDown(n) && nodePhase(n) !== 'Removing') {
      failovers.push({ node: name, t0: Date.now(), ms: null });
      began = true;
    }
  }
  return began;
}

// True when every deployment has all its replicas ready on nodes that are up.
// Counts the pods too, since a deployment's readyReplicas can still hold the
// lost ones for a moment after the node died.
function allReady(deployments, pods, nodes) {
  const down = new Set(nodes.filter(nodeIsDown).map((n) => n.metadata.name));
  const readyUp = new Map();
  for (const p of pods) {
    if (!podIsReady(p) || down.has(p.spec && p.spec.nodeName)) continue;
    const owner = podOwner(p);
    readyUp.set(owner, (readyUp.get(owner) || 0) + 1);
  }
  return deployments.every((d) => {
    if (d.metadata.deletionTimestamp) return true;
    const want = d.spec && d.spec.replicas !== undefined ? d.spec.replicas : 1;
    const ready = (d.status && d.status.readyReplicas) || 0;
    const key = `${d.metadata.namespace || ''}/${d.metadata.name}`;
    return ready === want && (readyUp.get(key) || 0) >= want;
  });
}

// Called after every pod, deployment or node change; returns true when a
// failover ended.
export function check(deployments, pods, nodes) {
  const open = failovers.filter((f) => f.ms === null);
  if (open.length === 0 || !allReady(deployments, pods, nodes)) return false;
  const now = Date.now();
  for (const f of open) f.ms = now - f.t0;
  return true;
}

export function failoverText(f) {
  return f.ms === null ? `failover ${f.node}: in progress` : `failover ${f.node}: ${(f.ms / 1000).toFixed(1)} s`;
}
