"""chaos.py: bench/chaos's driver (the bash script checks the host, makes
the state dir and removes everything at the end, also on failure).

A private stratad with three VM nodes and two Deployments (alpha behind a
ClusterIP Service, beta), then rounds of faults in an order drawn from a
seeded generator: node kill (the next round adds a node back, so there are
never more than three), pod delete, scale, apply (a new template: a rolling
update), stratad kill -9 (idle, or 0-300 ms into an apply, a scale or a
failover) and restart, the PostgreSQL server stopped and started while
writes flow. The same seed draws the same kinds and targets (a node by its
slot, a pod by its rank among its Deployment's, a delay); only what the
cluster itself did may differ between runs.

The invariants are checked all along, by two threads, and after each round:
  1 never more running copies of a Deployment's pods (Running, not being
    deleted) than its replicas plus maxSurge (1): from the watch on every
    event, and from the nodes' own lists; replicas is the highest value
    written since the Deployment last converged (a scale down takes time)
  2 never one pod (uid) running on two nodes: from the nodes' own lists
    (GET /api/v1/nodes/NAME/proxy/pods, asked over each node's channel)
  3 never an acknowledged write lost: after each round every object's
    stored value is the last write answered 2xx, or one sent after it whose
    answer never came or was an error
  4 the cluster converges within CONVERGE_BOUND_S after each round: every
    Deployment has its replicas Running and Ready with its current template
    on Ready nodes, nothing Terminating or Pending, the Service's endpoints
    are those pods, and the nodes themselves run exactly those pods
The last line:
  chaos: rounds=N seed=N node_kills=N daemon_kills=N pg_restarts=N violations=N
         max_converge_ms=N p50_converge_ms=N
"""
import argparse
import base64
import glob
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

CONVERGE_BOUND_S = 60  # invariant 4 (TCG, 2 cores shared by 3 VMs)
HANG_S = 240  # no convergence by then: the run stops as hung
ORPHAN_S = 20  # a pod the store deleted, still running on a node after this
SAMPLE_EVERY_S = 0.5
SLOTS = ("a", "b", "c")
DEPLOYMENTS = ("alpha", "beta")
MAX_REPLICAS = 4

# ---- the API over the unix socket -------------------------------------------


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Api:
    def __init__(self, sock):
        self.sock = sock

    def call(self, method, path, body=None, timeout=15):
        """(status, parsed body or text); OSError/HTTPException when
        stratad does not answer."""
        c = UnixHTTP(self.sock, timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            try:
                return r.status, json.loads(raw)
            except ValueError:
                return r.status, raw.decode(errors="replace")
        finally:
            c.close()

    def get(self, path, timeout=15):
        st, body = self.call("GET", path, timeout=timeout)
        if st != 200:
            raise OSError(f"GET {path}: {st}: {body}")
        return body


def ready(obj):
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in obj.get("status", {}).get("conditions", []))


def now():
    return time.monotonic()


def ms(s):
    return int(round(s * 1000))


# ---- the cluster's processes ------------------------------------------------


class Daemon:
    """stratad, its embedded PostgreSQL, and kill -9 / restart of both."""

    def __init__(self, a):
        self.bin, self.dir, self.sock = a.bin, a.dir, a.sock
        self.proc = None
        self.up_since = 0.0  # when it last answered after a (re)start
        self.log = open(os.path.join(self.dir, "stratad.log"), "ab")
        pgs = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                     key=lambda p: int(p.split("/")[4]))
        self.pg_ctl = pgs[-1] if pgs else None
        self.pg_data = os.path.join(self.dir, "pg", "data")

    def start(self):
        # its own session: a Ctrl-C reaches the bench, whose cleanup stops it
        self.proc = subprocess.Popen(
            [os.path.join(self.bin, "stratad"), "--state-dir", self.dir, "--socket", self.sock,
             "--api-listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        with open(os.path.join(self.dir, "stratad.pid"), "w") as f:
            f.write(f"{self.proc.pid}\n")

    def wait_up(self, api, timeout=90):
        end = now() + timeout
        while now() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"chaos: stratad exited ({self.proc.returncode}) while starting; "
                                 f"see {self.dir}/stratad.log:\n{self.tail()}")
            try:
                api.get("/api/v1/nodes", timeout=5)
                self.up_since = now()
                return
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)
        raise SystemExit(f"chaos: stratad did not answer within {timeout} s:\n{self.tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        """SIGKILL and reap; the seconds the reaping took."""
        self.up_since = float("inf")
        t = now()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return now() - t

    def tail(self, n=30):
        self.log.flush()
        with open(os.path.join(self.dir, "stratad.log"), "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def pg(self, verb):
        """pg_ctl VERB on the embedded cluster, as postgres (as stratad runs
        it); True when it worked."""
        cmd = f"{self.pg_ctl} {verb} -D {self.pg_data} -w -t 60"
        if verb == "stop":
            cmd += " -m fast"
        if verb == "start":
            cmd += f" -l {os.path.join(self.dir, 'pg', 'postgresql.log')}"
        r = subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", cmd], cwd="/",
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90)
        if r.returncode != 0:
            print(f"chaos: pg_ctl {verb}: exit {r.returncode}: {r.stdout.strip()}", flush=True)
        return r.returncode == 0


# ---- what was written, and what must be stored (invariant 3) ----------------


class Writes:
    """Per value (key): the last write answered 2xx, and the writes sent
    after it that were not (an error, no answer): the store must hold one
    of them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # key -> (value, round, when)
        self.maybe = {}  # key -> [values]

    def record(self, key, value, ok, rnd):
        with self.lock:
            if ok:
                self.acked[key] = (value, rnd, time.strftime("%H:%M:%S"))
                self.maybe[key] = []
            else:
                self.maybe.setdefault(key, []).append(value)

    def check(self, key, stored):
        """None when stored is allowed, else the evidence."""
        with self.lock:
            acked = self.acked.get(key)
            maybe = self.maybe.get(key, [])
            if acked is None or stored == acked[0] or stored in maybe:
                return None
            return (f"{key[0]} {key[1]}: stored {stored!r}, but {acked[0]!r} was acknowledged "
                    f"(round {acked[1]}, {acked[2]}) and no later write could have replaced it "
                    f"(unacknowledged later writes: {maybe})")

    def settle(self, key, stored):
        with self.lock:
            self.acked[key] = (stored, self.acked.get(key, (None, 0, ""))[1], "settled")
            self.maybe[key] = []


# ---- the observed state, and invariants 1 and 2 as it changes ----------------


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.round = 0
        self.violations = []  # (round, kind, evidence)
        self.reported = set()  # (round, kind, key): one report per condition and round
        self.pods = {}  # uid -> the pod as last seen in the watch
        self.deleted = {}  # uid -> (when it left the store, deployment)
        self.first_seen = {}  # uid -> when a node first reported it
        self.allowed = {d: 0 for d in DEPLOYMENTS}  # the highest replicas since converged
        self.excess_prev = {}  # deployment -> the last sweep's excess (two in a row count)
        self.watch_events = 0
        self.sweeps = 0
        self.daemon_up_since = 0.0

    def violate(self, kind, key, evidence):
        with self.lock:
            self._violate(kind, key, evidence)

    def _violate(self, kind, key, evidence):
        k = (self.round, kind, key)
        if k in self.reported:
            return
        self.reported.add(k)
        self.violations.append((self.round, kind, evidence))
        print(f"chaos: VIOLATION round {self.round}: {kind}: {evidence}", flush=True)

    def raise_allowed(self, dep, replicas):
        with self.lock:
            self.allowed[dep] = max(self.allowed[dep], replicas)

    def settle_allowed(self, dep, replicas):
        with self.lock:
            self.allowed[dep] = replicas

    @staticmethod
    def dep_of(pod):
        return pod.get("metadata", {}).get("labels", {}).get("app")

    @staticmethod
    def running(pod):
        return (pod.get("status", {}).get("phase") == "Running" and
                not pod.get("metadata", {}).get("deletionTimestamp"))

    def _check_watch_surge(self, dep):
        if dep not in self.allowed:
            return
        live = [p for p in self.pods.values() if self.dep_of(p) == dep and self.running(p)]
        if len(live) > self.allowed[dep] + 1:
            pods = ", ".join(f"{p['metadata']['name']}@{p['spec'].get('nodeName')}" for p in live)
            self._violate("surge (watch)", dep,
                          f"deployment {dep}: {len(live)} pods Running and not Terminating, "
                          f"more than replicas {self.allowed[dep]} + maxSurge 1: {pods}")

    def relist(self, items):
        with self.lock:
            seen = set()
            for p in items:
                uid = p["metadata"]["uid"]
                seen.add(uid)
                self.pods[uid] = p
            for uid in list(self.pods):
                if uid not in seen:
                    self.deleted[uid] = (now(), self.dep_of(self.pods[uid]))
                    del self.pods[uid]
            for d in DEPLOYMENTS:
                self._check_watch_surge(d)

    def on_event(self, ev):
        obj = ev.get("object", {})
        uid = obj.get("metadata", {}).get("uid")
        if not uid:
            return
        with self.lock:
            self.watch_events += 1
            if ev["type"] == "DELETED":
                self.pods.pop(uid, None)
                self.deleted[uid] = (now(), self.dep_of(obj))
            else:
                self.pods[uid] = obj
            self._check_watch_surge(self.dep_of(obj))

    def on_sweep(self, sweep):
        """sweep: node -> {uid: (name, phase)} as each node said."""
        t = now()
        with self.lock:
            self.sweeps += 1
            where = {}
            for node, pods in sweep.items():
                for uid, (name, phase) in pods.items():
                    self.first_seen.setdefault(uid, t)
                    if phase == "Running":
                        where.setdefault(uid, []).append((node, name))
            # 2: one pod on two nodes
            for uid, at in where.items():
                if len(at) > 1:
                    self._violate("pod on two nodes", uid,
                                  f"pod {at[0][1]} (uid {uid}) runs on "
                                  f"{', '.join(n for n, _ in at)} at once (the nodes' own lists)")
            # 1, from the nodes: Running there and not being deleted in the store
            count = {d: [] for d in DEPLOYMENTS}
            for uid, at in where.items():
                pod = self.pods.get(uid)
                if pod is not None:
                    if pod.get("metadata", {}).get("deletionTimestamp"):
                        continue
                    dep = self.dep_of(pod)
                elif uid in self.deleted:
                    gone, dep = self.deleted[uid]
                    since = max(gone, self.daemon_up_since)
                    if t - since > ORPHAN_S:
                        self._violate("orphan", uid,
                                      f"pod {at[0][1]} (uid {uid}) still runs on {at[0][0]} "
                                      f"{t - gone:.0f} s after it left the store")
                    continue
                else:
                    continue  # not in the watch yet
                if dep in count:
                    count[dep].append(f"{at[0][1]}@{at[0][0]}")
            for dep, names in count.items():
                excess = len(names) > self.allowed[dep] + 1
                if excess and self.excess_prev.get(dep):
                    self._violate("surge (nodes)", dep,
                                  f"deployment {dep}: the nodes run {len(names)} of its pods "
                                  f"(not being deleted), more than replicas {self.allowed[dep]} "
                                  f"+ maxSurge 1, in two sweeps in a row: {', '.join(names)}")
                self.excess_prev[dep] = excess


# ---- the two observers -----------------------------------------------------


class Watcher(threading.Thread):
    """A list, then a watch from its resourceVersion, of every pod; again
    after each break (stratad killed, a 410)."""

    def __init__(self, sock, state, stop):
        super().__init__(daemon=True)
        self.sock, self.state, self.stop = sock, state, stop

    def run(self):
        api = Api(self.sock)
        while not self.stop.is_set():
            c = None
            try:
                lst = api.get("/api/v1/pods", timeout=10)
                self.state.relist(lst.get("items", []))
                rv = lst.get("metadata", {}).get("resourceVersion", "")
                c = UnixHTTP(self.sock, 15)  # keep-alives come every 5 s
                c.request("GET", f"/api/v1/pods?watch=true&resourceVersion={rv}")
                r = c.getresponse()
                if r.status != 200:
                    raise OSError(f"watch: {r.status}")
                while not self.stop.is_set():
                    line = r.readline()
                    if not line:
                        break
                    line = line.strip()
                    if not line:
                        continue
                    ev = json.loads(line)
                    if ev.get("type") == "ERROR":
                        break  # 410: list again
                    if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self.state.on_event(ev)
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.2)
            finally:
                if c:
                    c.close()


def node_lists(api, names, timeout=8):
    """node -> {uid: (name, phase)} from each node's own answer; a node
    that cannot answer is left out."""
    out = {}
    for n in names:
        try:
            st, body = api.call("GET", f"/api/v1/nodes/{n}/proxy/pods", timeout=timeout)
        except (OSError, http.client.HTTPException):
            continue
        if st == 200:
            out[n] = {p["metadata"]["uid"]: (p["metadata"]["name"], p["status"].get("phase"))
                      for p in body.get("items", [])}
    return out


class Sampler(threading.Thread):
    """Every SAMPLE_EVERY_S: every node's own list of what it runs."""

    def __init__(self, sock, state, stop):
        super().__init__(daemon=True)
        self.sock, self.state, self.stop = sock, state, stop
        self.unanswered = 0
        self.took = []  # seconds a node took to say what it runs, per node

    def run(self):
        api = Api(self.sock)
        while not self.stop.is_set():
            try:
                nodes = [n["metadata"]["name"] for n in api.get("/api/v1/nodes", timeout=5)["items"]
                         if ready(n)]
                t = now()
                sweep = node_lists(api, nodes)
                if nodes:
                    self.took.append((now() - t) / len(nodes))
                self.unanswered += len(nodes) - len(sweep)
                self.state.on_sweep(sweep)
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                pass
            self.stop.wait(SAMPLE_EVERY_S)


# ---- the bench --------------------------------------------------------------


def manifest(dep, replicas, gen):
    if dep == "alpha":
        script = ("trap 'exit 0' TERM; mkdir -p /www && echo ok >/www/index.html && "
                  "httpd -f -p 8080 -h /www & wait")
        probe = {"readinessProbe": {"httpGet": {"path": "/index.html", "port": 8080},
                                    "periodSeconds": 1}}
        ports = [{"containerPort": 8080, "name": "http"}]
    else:
        script = "trap 'exit 0' TERM; while :; do sleep 1; done"
        probe, ports = {}, []
    ctr = {"name": "main", "image": "busybox", "command": ["/bin/sh", "-c", script],
           "env": [{"name": "GEN", "value": str(gen)}],
           "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}, "limits": {"memory": "32Mi"}}}
    ctr.update(probe)
    if ports:
        ctr["ports"] = ports
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": dep},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": dep}},
                     "template": {"metadata": {"labels": {"app": dep}},
                                  "spec": {"terminationGracePeriodSeconds": 5,
                                           "containers": [ctr]}}}}


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "alpha"},
           "spec": {"selector": {"app": "alpha"}, "ports": [{"port": 80, "targetPort": 8080}]}}


def gen_of(obj):
    """The GEN env of a Deployment's template or of a pod."""
    spec = obj.get("spec", {})
    spec = spec.get("template", {}).get("spec", spec)
    for c in spec.get("containers", []):
        for e in c.get("env", []):
            if e.get("name") == "GEN":
                return int(e.get("value"))
    return None


class Hung(Exception):
    """No convergence in HANG_S: the run stops there (its rounds so far
    and the violation are reported)."""


class Chaos:
    def __init__(self, a):
        self.a = a
        self.api = Api(a.sock)
        self.daemon = Daemon(a)
        self.state = State()
        self.writes = Writes()
        self.stop = threading.Event()
        self.rng = random.Random(a.seed)
        self.slot_gen = {s: 0 for s in SLOTS}
        self.dead_slot = None  # killed, to be added back next round
        self.desired = {d: {"replicas": 2, "gen": 0} for d in DEPLOYMENTS}
        self.counts = {"node_kills": 0, "daemon_kills": 0, "pg_restarts": 0}
        self.converge_ms = []
        self.pg_daemon_exits = 0
        self.pg_resume_ms = []
        self.mid_write = {"acked": 0, "cut": 0}  # kills during an apply or scale
        self.restart_s = []  # stratad's exec to its first answer, after each kill
        self.notes = []

    # -- helpers --

    def node(self, slot):
        return f"{self.a.prefix}{slot}{self.slot_gen[slot]}"

    def live_nodes(self):
        return [self.node(s) for s in SLOTS if s != self.dead_slot]

    def ctl(self, *args, timeout=180):
        return subprocess.run([os.path.join(self.a.bin, "stratactl"), "--socket", self.a.sock, *args],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=timeout)

    def write(self, what, method, path, body, keys):
        """A write through the API; each (key, value) in keys is recorded as
        acknowledged when it answered 2xx, else as maybe stored."""
        for (dep, field), value in keys:
            if field == "replicas" and dep in self.state.allowed:
                self.state.raise_allowed(dep, value)
        try:
            st, reply = self.api.call(method, path, body, timeout=30)
            ok = 200 <= st < 300
        except (OSError, http.client.HTTPException) as e:
            st, reply, ok = None, str(e), False
        for key, value in keys:
            self.writes.record(key, value, ok, self.state.round)
        return ok, st, reply

    def domain_running(self, node):
        r = subprocess.run(["virsh", "-c", "qemu:///system", "domstate", f"strata-{node}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30)
        return r.stdout.strip() == "running"

    def call_quiet(self, method, path):
        """A call whose answer does not matter (stratad may die under it)."""
        try:
            return self.api.call(method, path, timeout=60)
        except (OSError, http.client.HTTPException) as e:
            return None, str(e)

    def apply(self, dep, replicas, gen):
        return self.write(f"apply {dep}", "POST", "/apply", {"items": [manifest(dep, replicas, gen)]},
                          [((dep, "replicas"), replicas), ((dep, "gen"), gen)])

    def scale(self, dep, replicas):
        return self.write(f"scale {dep}", "PUT",
                          f"/apis/apps/v1/namespaces/default/deployments/{dep}/scale",
                          {"spec": {"replicas": replicas}}, [((dep, "replicas"), replicas)])

    def diagnose(self):
        for args in (["get", "nodes", "-o", "wide"], ["get", "pods", "-o", "wide"],
                     ["get", "deployments"]):
            try:
                print(self.ctl(*args, timeout=30).stdout, file=sys.stderr)
            except subprocess.TimeoutExpired:
                print(f"stratactl {' '.join(args)}: no answer in 30 s", file=sys.stderr)
        print(f"stratad.log (last 40 lines):\n{self.daemon.tail(40)}", file=sys.stderr)
        for n in self.live_nodes():
            try:
                st, body = self.api.call("GET", f"/api/v1/nodes/{n}/proxy/pods", timeout=8)
                print(f"{n} says it runs: {st} {json.dumps(body)[:600]}", file=sys.stderr)
            except (OSError, http.client.HTTPException) as e:
                print(f"{n}: no answer: {e}", file=sys.stderr)
        # where stratad's threads are (a stuck controller loop shows here)
        if self.daemon.alive():
            try:
                r = subprocess.run(["gdb", "-p", str(self.daemon.proc.pid), "-batch", "-ex",
                                    "thread apply all bt 12"], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=60)
                print(f"stratad's threads:\n{r.stdout[-12000:]}", file=sys.stderr)
            except (OSError, subprocess.TimeoutExpired):
                pass

    # -- convergence (invariant 4) and the stored writes (invariant 3) --

    def converged(self):
        """None when the cluster is as desired, else what is not yet."""
        try:
            nodes = {n["metadata"]["name"]: n for n in self.api.get("/api/v1/nodes", 5)["items"]}
            pods = self.api.get("/api/v1/namespaces/default/pods", 5)["items"]
            deps = {d["metadata"]["name"]: d for d in
                    self.api.get("/apis/apps/v1/namespaces/default/deployments", 5)["items"]}
            eps = self.api.get("/api/v1/namespaces/default/endpoints/alpha", 5)
        except (OSError, http.client.HTTPException, ValueError) as e:
            return f"the API does not answer ({e})"
        want_nodes = set(self.live_nodes())
        ready_nodes = {n for n, o in nodes.items() if ready(o)}
        if not want_nodes <= ready_nodes:
            return f"nodes not Ready: {sorted(want_nodes - ready_nodes)}"
        live_uids = {}
        for dep in DEPLOYMENTS:
            d = deps.get(dep)
            if d is None:
                return f"deployment {dep} missing"
            replicas, gen = d["spec"]["replicas"], gen_of(d)
            mine = [p for p in pods if State.dep_of(p) == dep]
            bad = [p for p in mine if p["metadata"].get("deletionTimestamp") or
                   p.get("status", {}).get("phase") not in ("Running",) or not ready(p) or
                   p["spec"].get("nodeName") not in ready_nodes or gen_of(p) != gen]
            if bad:
                return (f"{dep}: pods not yet as desired: " +
                        ", ".join(f"{p['metadata']['name']}({p.get('status', {}).get('phase')}"
                                  f"{', Terminating' if p['metadata'].get('deletionTimestamp') else ''}"
                                  f"{', ready' if ready(p) else ''}, gen {gen_of(p)}/{gen}, "
                                  f"{p['spec'].get('nodeName')})" for p in bad[:4]))
            if len(mine) != replicas:
                return f"{dep}: {len(mine)} pods, {replicas} desired"
            for p in mine:
                live_uids[p["metadata"]["uid"]] = p["spec"]["nodeName"]
        addrs = sorted(a.get("ip") for s in eps.get("subsets", []) for a in s.get("addresses", []))
        ips = sorted(p.get("status", {}).get("podIP") for p in pods if State.dep_of(p) == "alpha")
        if addrs != ips:
            return f"Service alpha: ready endpoints {addrs}, its pods {ips}"
        # the nodes themselves run exactly these pods, each where the store says
        lists = node_lists(self.api, sorted(want_nodes))
        if set(lists) != want_nodes:
            return f"nodes that did not answer what they run: {sorted(want_nodes - set(lists))}"
        on_nodes = {}
        for n, ps in lists.items():
            for uid, (name, phase) in ps.items():
                if phase in ("Running", "Pending"):
                    on_nodes.setdefault(uid, []).append(n)
        if set(on_nodes) != set(live_uids):
            extra = set(on_nodes) - set(live_uids)
            missing = set(live_uids) - set(on_nodes)
            return (f"the nodes run {len(on_nodes)} pods, the store has {len(live_uids)}: "
                    f"extra on nodes {[(u[:8], on_nodes[u]) for u in extra]}, "
                    f"missing {[(u[:8], live_uids[u]) for u in missing]}")
        wrong = [u for u, ns in on_nodes.items() if ns != [live_uids[u]]]
        if wrong:
            return f"pods on other nodes than the store says: {wrong}"
        self.last_deps = deps
        return None

    def settle(self, t0, label):
        """Waits for convergence; checks the stored writes; returns ms."""
        why = None
        reported = False
        while True:
            why = self.converged()
            if why is None:
                break
            t = now() - t0
            if t > CONVERGE_BOUND_S and not reported:
                self.state.violate("no convergence", label,
                                   f"not converged {CONVERGE_BOUND_S} s after {label}: {why}")
                reported = True
            if t > HANG_S:
                self.diagnose()
                raise Hung(f"chaos: round {self.state.round}: hung: not converged {HANG_S} s "
                           f"after {label}: {why}")
            if not self.daemon.alive():
                self.state.violate("stratad exited", label,
                                   f"stratad exited ({self.daemon.proc.returncode}) during "
                                   f"{label}; log:\n{self.daemon.tail(15)}")
                self.daemon.start()
                self.daemon.wait_up(self.api)
                self.state.daemon_up_since = self.daemon.up_since
            time.sleep(0.2)
        took = ms(now() - t0)
        self.check_watch()
        for dep in DEPLOYMENTS:
            d = self.last_deps[dep]
            stored = {"replicas": d["spec"]["replicas"], "gen": gen_of(d)}
            for field, value in stored.items():
                ev = self.writes.check((dep, field), value)
                if ev:
                    self.state.violate("acknowledged write lost", (dep, field), ev)
                self.writes.settle((dep, field), value)
            self.desired[dep] = stored
            self.state.settle_allowed(dep, stored["replicas"])
        self.check_load_secret()
        return took

    def check_watch(self):
        """The watch's pods are the store's (each at the same
        resourceVersion) within a few seconds of convergence: a watch that
        lost or reordered a change would keep a stale pod."""
        end = now() + 5
        while True:
            try:
                lst = self.api.get("/api/v1/namespaces/default/pods", 5)["items"]
            except (OSError, http.client.HTTPException, ValueError):
                return
            store = {p["metadata"]["uid"]: p["metadata"].get("resourceVersion") for p in lst}
            with self.state.lock:
                seen = {u: p["metadata"].get("resourceVersion") for u, p in self.state.pods.items()
                        if p["metadata"].get("namespace", "default") == "default"}
            if seen == store:
                return
            if now() > end:
                diff = {u: (seen.get(u), store.get(u)) for u in set(seen) | set(store)
                        if seen.get(u) != store.get(u)}
                self.state.violate("watch diverged", "pods",
                                   f"5 s after convergence the watch's pods differ from the "
                                   f"store's (uid: watch rv, store rv): {diff}")
                return
            time.sleep(0.2)

    def check_load_secret(self):
        try:
            st, s = self.api.call("GET", "/api/v1/namespaces/default/secrets/chaos-load", timeout=10)
        except (OSError, http.client.HTTPException):
            return
        if st != 200:
            return
        v = int(base64.b64decode(s.get("data", {}).get("n", "")).decode() or "0")
        ev = self.writes.check(("secret/chaos-load", "n"), v)
        if ev:
            self.state.violate("acknowledged write lost", "secret", ev)
        self.writes.settle(("secret/chaos-load", "n"), v)

    # -- the steps --

    def restart_daemon(self):
        """Starts stratad again; the seconds until it answered."""
        t = now()
        self.daemon.start()
        self.daemon.wait_up(self.api)
        self.state.daemon_up_since = self.daemon.up_since
        self.restart_s.append(now() - t)
        return now() - t

    def step_node_kill(self, slot):
        victim = self.node(slot)
        self.dead_slot = slot
        self.counts["node_kills"] += 1
        t0 = now()
        st, _ = self.api.call("POST", f"/api/v1/nodes/{victim}/kill", timeout=60)
        return t0, f"node kill {victim} ({st})"

    def step_node_add(self):
        slot = self.dead_slot
        old = self.node(slot)
        t0 = now()
        self.api.call("DELETE", f"/api/v1/nodes/{old}", timeout=60)
        self.slot_gen[slot] += 1
        self.dead_slot = None
        r = self.ctl("node", "add", self.node(slot), "--timeout", "90")
        what = f"node rm {old}, node add {self.node(slot)}"
        if r.returncode != 0:
            what += f" (failed: {r.stdout.strip()})"
            self.notes.append(f"round {self.state.round}: {what}")
        return t0, what

    def step_pod_delete(self, dep, rank):
        pods = sorted(p["metadata"]["name"] for p in
                      self.api.get("/api/v1/namespaces/default/pods")["items"]
                      if State.dep_of(p) == dep and not p["metadata"].get("deletionTimestamp"))
        if not pods:
            return now(), f"pod delete: {dep} has no pod"
        name = pods[int(rank * len(pods))]
        t0 = now()
        st, _ = self.api.call("DELETE", f"/api/v1/namespaces/default/pods/{name}")
        return t0, f"pod delete {name} ({st})"

    def step_scale(self, dep, replicas):
        t0 = now()
        ok, st, _ = self.scale(dep, replicas)
        return t0, f"scale {dep} {self.desired[dep]['replicas']}->{replicas} ({st})"

    def step_apply(self, dep, replicas):
        gen = self.desired[dep]["gen"] + 1
        t0 = now()
        ok, st, _ = self.apply(dep, replicas, gen)
        return t0, f"apply {dep} gen {gen} replicas {replicas} ({st})"

    def step_daemon_kill(self, during, dep, replicas, slot, delay):
        """kill -9 of stratad, delay s into `during` (idle, apply, scale,
        failover), then a restart."""
        self.counts["daemon_kills"] += 1
        what = f"stratad kill -9 {ms(delay)} ms into {during}"
        bg = None
        result = []
        if during == "apply":
            gen = self.desired[dep]["gen"] + 1
            bg = threading.Thread(target=lambda: result.append(self.apply(dep, replicas, gen)))
            what += f" of {dep} gen {gen} replicas {replicas}"
        elif during == "scale":
            bg = threading.Thread(target=lambda: result.append(self.scale(dep, replicas)))
            what += f" of {dep} to {replicas}"
        elif during == "failover":
            victim = self.node(slot)
            self.dead_slot = slot
            self.counts["node_kills"] += 1
            bg = threading.Thread(target=self.call_quiet,
                                  args=("POST", f"/api/v1/nodes/{victim}/kill"))
            what += f" (node kill {victim})"
        t0 = now()
        if bg:
            bg.start()
        time.sleep(delay)
        reaped = self.daemon.kill9()
        t_join = now()
        if bg:
            bg.join()
        joined = now() - t_join
        if result:
            acked = result[0][0]
            self.mid_write["acked" if acked else "cut"] += 1
            what += " (answered 2xx before the kill)" if acked else " (cut: no answer)"
        up = self.restart_daemon()
        what += (f"; back after {ms(now() - t0)} ms (reaped in {ms(reaped)} ms, the cut call "
                 f"returned in {ms(joined)} ms, answering {ms(up)} ms after exec)")
        if during == "failover" and self.domain_running(self.node(slot)):
            # the kill request died with stratad before it reached libvirt:
            # the node lives on (re-adopted), and nothing is to be added back
            self.dead_slot = None
            self.counts["node_kills"] -= 1
            what += " (the node kill was cut before it happened: the node lives)"
        return t0, what

    def load(self, until):
        """Writes one after another (the Secret chaos-load's counter) until
        `until` is set; (sent, acked, how long after PostgreSQL was back the
        first one was acknowledged) in self.load_stats."""
        sent = acked = 0
        first_ok_after = None
        while not until.is_set():
            self.load_n += 1
            v = self.load_n
            body = {"items": [{"apiVersion": "v1", "kind": "Secret",
                               "metadata": {"name": "chaos-load"},
                               "data": {"n": base64.b64encode(str(v).encode()).decode()}}]}
            ok, st, _ = self.write("load", "POST", "/apply", body, [(("secret/chaos-load", "n"), v)])
            sent += 1
            acked += ok
            if ok and self.pg_back_at and first_ok_after is None:
                first_ok_after = now() - self.pg_back_at
            if not ok:
                time.sleep(0.05)
        self.load_stats = (sent, acked, first_ok_after)

    def step_pg_restart(self, lead, down):
        self.counts["pg_restarts"] += 1
        self.pg_back_at = None
        stop_load = threading.Event()
        th = threading.Thread(target=self.load, args=(stop_load,))
        th.start()
        time.sleep(lead)
        t0 = now()
        stopped = self.daemon.pg("stop")
        time.sleep(down)
        started = self.daemon.pg("start")
        self.pg_back_at = now()
        back_n = self.load_n
        # writes go on until one sent after the restart is acknowledged (bounded)
        end = now() + 30
        while now() < end and th.is_alive():
            with self.writes.lock:
                a = self.writes.acked.get(("secret/chaos-load", "n"))
            if a is not None and a[0] > back_n:
                break
            time.sleep(0.1)
        stop_load.set()
        th.join()
        sent, acked, resume = self.load_stats
        what = (f"PostgreSQL stopped{'' if stopped else ' (pg_ctl FAILED)'} for {ms(down)} ms "
                f"under load and started{'' if started else ' (pg_ctl FAILED)'}: {acked}/{sent} "
                f"writes acknowledged")
        if resume is not None:
            self.pg_resume_ms.append(ms(resume))
            what += f", writes resumed {ms(resume)} ms after it was back"
        else:
            what += ", no write acknowledged within 30 s after it was back"
        if not self.daemon.alive():
            self.pg_daemon_exits += 1
            what += f"; stratad EXITED ({self.daemon.proc.returncode}), restarted"
            self.notes.append(f"round {self.state.round}: stratad exited when PostgreSQL stopped: "
                              f"{self.daemon.tail(5)}")
            self.restart_daemon()
        return t0, what

    # -- the run --

    def draw(self):
        """The next step (kind and targets), drawn the same for a seed."""
        r = self.rng
        kind = r.choices(["scale", "apply", "pod_delete", "node_kill", "daemon_kill", "pg_restart"],
                         weights=[3, 2, 2, 1.5, 2.5, 1.5])[0]
        dep = r.choice(DEPLOYMENTS)
        replicas = r.randint(1, MAX_REPLICAS)
        slot = r.choice(SLOTS)
        rank = r.random()
        # half the kills in the first 30 ms, when an apply or scale is still in flight
        delay = r.uniform(0, 0.03) if r.random() < 0.5 else r.uniform(0, 0.3)
        during = r.choice(["idle", "apply", "scale", "failover"])
        lead, down = r.uniform(0.2, 1.0), r.uniform(1.0, 3.0)
        if self.dead_slot is not None:
            return ("node_add",)
        if kind == "scale":
            return ("scale", dep, replicas)
        if kind == "apply":
            return ("apply", dep, replicas)
        if kind == "pod_delete":
            return ("pod_delete", dep, rank)
        if kind == "node_kill":
            return ("node_kill", slot)
        if kind == "daemon_kill":
            return ("daemon_kill", during, dep, replicas, slot, delay)
        return ("pg_restart", lead, down)

    def setup(self):
        t0 = now()
        self.daemon.start()
        self.daemon.wait_up(self.api)
        self.state.daemon_up_since = self.daemon.up_since
        image = self.a.image
        r = self.ctl("image", "import", "busybox", image)
        if r.returncode != 0:
            raise SystemExit(f"chaos: image import: {r.stdout}")
        procs = [subprocess.Popen([os.path.join(self.a.bin, "stratactl"), "--socket", self.a.sock,
                                   "node", "add", self.node(s), "--timeout", "120"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for s in SLOTS]
        for p in procs:
            out, _ = p.communicate(timeout=300)
            if p.returncode != 0:
                raise SystemExit(f"chaos: node add failed: {out}\n{self.daemon.tail()}")
        st, body = self.api.call("POST", "/apply", {"items": [SERVICE]})
        if st != 200:
            raise SystemExit(f"chaos: applying the Service: {st}: {body}")
        for dep in DEPLOYMENTS:
            ok, st, body = self.apply(dep, 2, 0)
            if not ok:
                raise SystemExit(f"chaos: applying {dep}: {st}: {body}")
            self.state.raise_allowed(dep, 2)
        self.load_n = 0
        Watcher(self.a.sock, self.state, self.stop).start()
        self.sampler = Sampler(self.a.sock, self.state, self.stop)
        self.sampler.start()
        try:
            took = self.settle(t0, "setup")
        except Hung as e:
            raise SystemExit(str(e))
        print(f"chaos: setup: stratad, 3 nodes, alpha (2, behind a Service) and beta (2) ready "
              f"after {took} ms", flush=True)

    def run(self):
        a = self.a
        print(f"chaos: seed={a.seed} (replay: bench/chaos --seed {a.seed} --rounds {a.rounds})",
              flush=True)
        self.setup()
        start = now()
        rounds = 0
        while rounds < a.rounds and (a.minutes is None or now() - start < a.minutes * 60):
            rounds += 1
            self.state.round = rounds
            step = self.draw()
            kind = step[0]
            t0, what = getattr(self, "step_" + kind)(*step[1:])
            try:
                took = self.settle(t0, what)
            except Hung as e:
                print(e, flush=True)
                break
            self.converge_ms.append(took)
            print(f"round {rounds}: {what}: converged in {took} ms", flush=True)
        self.stop.set()
        v = self.state.violations
        print(f"chaos: {self.state.watch_events} watch events, {self.state.sweeps} node sweeps "
              f"({self.sampler.unanswered} node lists unanswered; a node's answer took "
              f"{ms(statistics.median(self.sampler.took or [0]))} ms median, "
              f"{ms(max(self.sampler.took or [0]))} ms max)", flush=True)
        if self.pg_resume_ms:
            print(f"chaos: writes resumed after PostgreSQL came back: median "
                  f"{statistics.median(self.pg_resume_ms):.0f} ms, max {max(self.pg_resume_ms)} ms; "
                  f"stratad exits on a PostgreSQL restart: {self.pg_daemon_exits}", flush=True)
        if self.restart_s:
            print(f"chaos: stratad answered {ms(statistics.median(self.restart_s))} ms (median; "
                  f"max {ms(max(self.restart_s))} ms) after its restart (exec to the first API "
                  f"answer: PostgreSQL adopted, nodes re-adopted)", flush=True)
        if sum(self.mid_write.values()):
            print(f"chaos: stratad killed during a write {sum(self.mid_write.values())} times: "
                  f"{self.mid_write['cut']} cut before the answer (stored or not, both allowed), "
                  f"{self.mid_write['acked']} answered 2xx first (must be stored)", flush=True)
        for n in self.notes:
            print(f"chaos: note: {n}", flush=True)
        for rnd, kind, ev in v:
            print(f"chaos: violation: round {rnd}: {kind}: {ev}", flush=True)
        cm = self.converge_ms or [0]
        print(f"chaos: rounds={rounds} seed={a.seed} node_kills={self.counts['node_kills']} "
              f"daemon_kills={self.counts['daemon_kills']} pg_restarts={self.counts['pg_restarts']} "
              f"violations={len(v)} max_converge_ms={max(cm)} "
              f"p50_converge_ms={int(statistics.median(cm))}", flush=True)
        return 1 if v else 0


def main():
    p = argparse.ArgumentParser(prog="bench/chaos")
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--dir", required=True)
    p.add_argument("--sock", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--bin", required=True)
    p.add_argument("--image", required=True)
    a = p.parse_args()
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(Chaos(a).run())


if __name__ == "__main__":
    main()
