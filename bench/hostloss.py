"""hostloss.py: bench/hostloss's driver (the bash script checks the host and
removes everything at the end, also on failure).

Two "hosts" on this machine (scripts/hosts: a network namespace each, one
PostgreSQL reached through veth pairs), a stratad in each sharing that
database, two VM nodes per host (one of them added through the other
host's stratad with `node add --host`), and a Deployment of 4 replicas,
which the scheduler spreads 2/2 over the hosts. Then ROUNDS times: the host
holding the most replicas is cut off (its veth taken down), or (rounds
2, 5, ...) its stratad is killed with -9, leaving its VMs running, or
(rounds 3, 6, ...) the whole host is frozen (SIGSTOP of its stratad and its
QEMUs), and the bench times, from the cut (kill, freeze):
  detect_ms   the survivor's leader marking the cut host's nodes lost
              (Ready False, reason HostLost)
  replace_ms  all 4 replicas Running and ready on the surviving host
and checks the order: the cut host's stratad fenced its VMs (its log's
"self-fence done", and its QEMUs gone) before the leader marked the host
lost, and no pod ever runs on both hosts (the nodes' own lists); after a
kill, that every VM of the killed host stopped its own pods (its console's
"(self-fence)" line) before the leader marked the host lost. Then the link
comes back (or stratad starts again and destroys the VMs of its nodes
stored dead), its nodes are added back, and the next round takes the host
holding most replicas then. A frozen host is thawed once its pods were
replaced, QEMUs first: it must kill its VMs at once, and the time that
takes is the window its old pods could run beside their replacements.

Last line:
  hostloss: rounds=N detect_ms=N fenced_before_replace=yes|no replace_ms=N
            lease_ms=N target_ms=N violations=N
(the medians of the rounds; target_ms = lease + 3 s, issue 17's bound).
Exits 1 on any violation.
"""
import argparse
import datetime
import os
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos import Api, node_lists, now, ms, ready  # noqa: E402

REPLICAS = 4
# A thawed frozen host kills its VMs this fast at most (its fence thread
# looks every 50 ms; the kill is a pidfd SIGKILL).
FREEZE_WINDOW_BOUND_MS = 1000
HOSTS = (1, 2)
ROUND_BOUND_S = 60


def log_time(line):
    """The wall-clock time of a stratad log line ("stratad HH:MM:SS.mmm")."""
    m = re.match(r"stratad (\d\d):(\d\d):(\d\d)\.(\d\d\d) ", line)
    if not m:
        return None
    h, mi, s, milli = (int(x) for x in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1000 + milli


def day_ms():
    t = datetime.datetime.now(datetime.timezone.utc)
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000


class Host:
    def __init__(self, bench, k):
        self.b, self.k = bench, k
        self.name = f"{bench.prefix.replace('strata-', '')}-h{k}"
        self.dir = os.path.join(bench.dir, f"h{k}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "api.sock")
        self.logpath = os.path.join(self.dir, "stratad.log")
        self.api = Api(self.sock)
        self.proc = None

    def start(self):
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [self.b.hosts, "--prefix", self.b.prefix, "--state", self.b.hdir, "exec", str(self.k),
             os.path.join(self.b.bin, "stratad"), "--state-dir", self.dir, "--socket", self.sock,
             "--db", self.b.dsn[self.k], "--host-name", self.name, "--secret-key",
             os.path.join(self.b.dir, "secret.key"), "--api-listen", "none",
             "--lease-ms", str(self.b.lease_ms)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        with open(os.path.join(self.dir, "stratad.pid"), "w") as f:
            f.write(f"{self.proc.pid}\n")
        end = now() + 90
        while now() < end:
            if self.proc.poll() is not None:
                raise SystemExit(f"hostloss: stratad of {self.name} exited "
                                 f"({self.proc.returncode}):\n{self.tail()}")
            try:
                if self.api.call("GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"hostloss: stratad of {self.name} did not answer in 90 s:\n{self.tail()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def lines(self):
        with open(self.logpath, errors="replace") as f:
            return f.read().splitlines()

    def tail(self, n=25):
        return "\n".join(self.lines()[-n:])

    def ctl(self, *args, timeout=180):
        r = subprocess.run([os.path.join(self.b.bin, "stratactl"), "--socket", self.sock, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise SystemExit(f"hostloss: stratactl {' '.join(args)} on {self.name}: {r.stdout}")
        return r.stdout

    def first_line_after(self, pattern, since_ms):
        for line in self.lines():
            t = log_time(line)
            if t is not None and t >= since_ms and pattern in line:
                return t
        return None


class Bench:
    def __init__(self, a):
        self.a = a
        self.bin, self.dir, self.hosts = a.bin, a.dir, a.hosts_script
        self.prefix = a.prefix
        self.hdir = os.path.join(self.dir, "net")
        self.lease_ms = a.lease_ms
        self.violations = []
        self.dsn = {}
        # node (and so domain) names carry the run's prefix
        short = self.prefix.replace("strata-", "")
        self.nodes_of = {1: (f"{short}a1", f"{short}a2"), 2: (f"{short}b1", f"{short}b2")}

    def net(self, *args):
        r = subprocess.run([self.hosts, "--prefix", self.prefix, "--state", self.hdir, *args],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"hostloss: scripts/hosts {' '.join(args)}: {r.stdout}")
        return r.stdout

    def show(self, say, host=None, *args):
        """--show: a line of narration, and the command a user would type
        with its output."""
        if not self.a.show:
            return
        print(f"\n== {say} ==", flush=True)
        if host is not None:
            print(f"$ stratactl --socket {host.sock} {' '.join(args)}", flush=True)
            print(host.ctl(*args), end="", flush=True)

    def violate(self, rnd, what):
        print(f"hostloss: VIOLATION round {rnd}: {what}", flush=True)
        self.violations.append((rnd, what))

    def pods(self, api):
        return api.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb")["items"]

    def nodes(self, api):
        return {n["metadata"]["name"]: n for n in api.get("/api/v1/nodes")["items"]}

    def host_of(self, nodes, node):
        return nodes.get(node, {}).get("metadata", {}).get("labels", {}).get("strata.io/host")

    def ready_pods_by_host(self, api):
        nodes = self.nodes(api)
        out = {}
        for p in self.pods(api):
            if p["status"].get("phase") != "Running" or not ready(p) or \
                    p["metadata"].get("deletionTimestamp"):
                continue
            h = self.host_of(nodes, p["spec"].get("nodeName"))
            out.setdefault(h, []).append(p)
        return out

    def wait(self, what, cond, bound_s=ROUND_BOUND_S, every=0.1):
        end = now() + bound_s
        while now() < end:
            try:
                v = cond()
            except OSError:
                v = None
            if v:
                return v
            time.sleep(every)
        raise SystemExit(f"hostloss: {what}: not within {bound_s} s\n"
                         + "\n".join(f"--- {h.name}\n{h.tail()}" for h in self.h.values()))

    def add_nodes(self, k, via=None):
        for n in self.nodes_of[k]:
            if via is not None and n == self.nodes_of[k][-1]:
                via.ctl("node", "add", n, "--host", self.h[k].name)
            else:
                self.h[k].ctl("node", "add", n)

    def marked_lost(self, api, vnodes):
        """Whether the leader marked every one of vnodes lost with its host."""
        nodes = self.nodes(api)
        return all(any(c.get("reason") == "HostLost" for c in
                       nodes[n].get("status", {}).get("conditions", [])) for n in vnodes)

    def ready_on(self, api, k):
        """Whether all the replicas are ready on host k."""
        return len(self.ready_pods_by_host(api).get(self.h[k].name, [])) == REPLICAS

    def pick_victim(self):
        """(the host holding most ready replicas, the other)."""
        by = self.ready_pods_by_host(self.h[1].api)
        name = max(by, key=lambda h: len(by[h]))
        victim = next(k for k in HOSTS if self.h[k].name == name)
        return victim, next(k for k in HOSTS if k != victim)

    def add_back(self, k, api):
        """Host k's nodes added again (they were lost) and Ready."""
        self.add_nodes(k)
        self.wait(f"{self.h[k].name}'s nodes Ready again", lambda: all(
            ready(self.nodes(api)[n]) for n in self.nodes_of[k]), bound_s=240, every=0.5)

    def domain_running(self, node):
        r = subprocess.run(["virsh", "-c", "qemu:///system", "domstate", f"strata-{node}"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        return r.returncode == 0 and r.stdout.strip() == "running"

    def setup(self):
        self.net("up", "2")
        for line in self.net("env").splitlines():
            m = re.match(r"STRATA_HOST(\d+)_DSN=(.*)", line)
            if m:
                self.dsn[int(m.group(1))] = m.group(2).strip("'\"")
        if set(self.dsn) != set(HOSTS):
            raise SystemExit(f"hostloss: scripts/hosts env gave no DSN for each host: {self.dsn}")
        self.h = {k: Host(self, k) for k in HOSTS}
        # one after the other: the first makes the shared secret key
        for k in HOSTS:
            self.h[k].start()
            self.h[k].ctl("image", "import", "busybox", self.a.image)
        self.add_nodes(1)
        self.add_nodes(2, via=self.h[1])
        api = self.h[1].api
        self.wait("4 nodes Ready", lambda: sum(ready(n) for n in self.nodes(api).values()) == 4,
                  bound_s=240, every=0.5)
        self.h[1].ctl("apply", "-f", self.a.manifest)
        t0 = now()
        by = self.wait("4 replicas ready", lambda: (lambda b: b if sum(map(len, b.values()))
                                                    == REPLICAS else None)(
            self.ready_pods_by_host(api)), bound_s=120)
        spread = sorted(len(v) for v in by.values())
        self.show(f"two hosts ({self.h[1].name}, {self.h[2].name}) share one PostgreSQL; "
                  f"their nodes (HOST column)", self.h[1], "get", "nodes", "-o", "wide")
        self.show("4 replicas, spread over the hosts first, then the nodes", self.h[2], "get",
                  "pods", "-o", "wide")
        print(f"hostloss: 4 replicas ready in {ms(now() - t0)} ms, per host {spread}", flush=True)
        if spread != [2, 2]:
            self.violate(0, f"replicas not spread 2/2 over the hosts: {spread}")

    def round(self, rnd):
        victim, survivor = self.pick_victim()
        victim_name, api, vnodes = self.h[victim].name, self.h[survivor].api, self.nodes_of[victim]
        self.show(f"cutting {victim_name} off the database (scripts/hosts cut {victim}): it must "
                  f"fence its own VMs within {self.lease_ms // 2} ms, before the leader on "
                  f"{self.h[survivor].name} may replace their pods")
        cut_day = day_ms()
        t0 = now()
        self.net("cut", str(victim))
        detect = self.wait("the cut host's nodes marked lost",
                           lambda: self.marked_lost(api, vnodes))
        detect_ms = ms(now() - t0)
        running_at_detect = [n for n in vnodes if self.domain_running(n)]
        sampled_dup = []

        def replaced():
            lists = node_lists(api, self.nodes_of[survivor], timeout=3)
            uids = {}
            for node, pods in lists.items():
                for uid in pods:
                    uids.setdefault(uid, []).append(node)
            sampled_dup.extend(u for u, ns in uids.items() if len(ns) > 1)
            b = self.ready_pods_by_host(api)  # one read for both questions
            return len(b.get(self.h[survivor].name, [])) == REPLICAS and not b.get(victim_name)
        self.wait("4 replicas ready on the surviving host", replaced)
        replace_ms = ms(now() - t0)
        self.show(f"{victim_name}'s nodes lost (HostLost), the replicas back on "
                  f"{self.h[survivor].name}", self.h[survivor], "get", "nodes", "-o", "wide")
        self.show("the replicas", self.h[survivor], "get", "pods", "-o", "wide")
        if self.a.show:
            print(f"\n== what {victim_name}'s stratad did ==")
            print("\n".join(line for line in self.h[victim].lines()
                            if "fence" in line and log_time(line) and
                            log_time(line) >= cut_day))
        fenced_at = self.h[victim].first_line_after("self-fence done", cut_day)
        lost_at = self.h[survivor].first_line_after(f"lost with host {victim_name}", cut_day)
        ok = (fenced_at is not None and lost_at is not None and fenced_at < lost_at
              and not running_at_detect and not sampled_dup and detect)
        if not ok:
            self.violate(rnd, f"fenced_at={fenced_at} lost_at={lost_at} "
                              f"vms_running_at_detect={running_at_detect} "
                              f"pods_on_two_nodes={sampled_dup}")
        print(f"hostloss: round {rnd}: cut {victim_name}: detect_ms={detect_ms} "
              f"replace_ms={replace_ms} self-fence {fenced_at - cut_day if fenced_at else '?'} ms "
              f"after the cut, marked lost {lost_at - cut_day if lost_at else '?'} ms after",
              flush=True)
        # heal: the host takes its lease back, its nodes come back
        heal_day = day_ms()
        self.net("heal", str(victim))
        self.wait("the healed host holds its lease again", lambda: self.h[victim].first_line_after(
            "holds its lease again", heal_day) is not None)
        # its own connection to the store comes back within a retry (2 s)
        self.wait("the healed host's API answering from the store", lambda: self.h[victim].api.call(
            "GET", "/api/v1/nodes", timeout=5)[0] == 200)
        self.add_back(victim, api)
        self.show(f"healed: {victim_name} holds its lease again and its nodes were added back",
                  self.h[victim], "get", "nodes", "-o", "wide")
        # no duplicate after the heal: exactly the replicas, each on one node
        b = self.ready_pods_by_host(api)
        total = sum(map(len, b.values()))
        if total != REPLICAS:
            self.violate(rnd, f"{total} ready replicas after the heal, want {REPLICAS}")
        return detect_ms, replace_ms, ok

    def console_has(self, k, node, text):
        try:
            with open(os.path.join(self.h[k].dir, "nodes", f"{node}.console.log"),
                      errors="replace") as f:
                return text in f.read()
        except OSError:
            return False

    def kill_round(self, rnd):
        """The host's stratad is killed (-9): its VMs keep running, and
        must stop their own pods (the guests' self-fence) before the leader
        marks the host lost; then stratad starts again, destroys the VMs of
        its nodes stored dead, and the nodes are added back."""
        victim, survivor = self.pick_victim()
        victim_name, api, vnodes = self.h[victim].name, self.h[survivor].api, self.nodes_of[victim]
        self.show(f"kill -9 of {victim_name}'s stratad: its VMs keep running and must stop "
                  f"their own pods when their host falls silent, before the leader on "
                  f"{self.h[survivor].name} replaces them")
        t0 = now()
        self.h[victim].proc.kill()
        self.h[victim].proc.wait()
        guest_at = {}
        lost_at = None

        def lost():
            nonlocal lost_at
            for n in vnodes:
                if n not in guest_at and self.console_has(victim, n, "(self-fence)"):
                    guest_at[n] = now()
            if self.marked_lost(api, vnodes):
                lost_at = now()
                return True
            return False
        self.wait("the killed host's nodes marked lost", lost, every=0.05)
        detect_ms = ms(lost_at - t0)
        # the guests' own lines, read once more: a line written just before
        # the leader acted may have been read only now
        for n in vnodes:
            if n not in guest_at and self.console_has(victim, n, "(self-fence)"):
                guest_at[n] = lost_at
        self.wait("4 replicas ready on the surviving host", lambda: self.ready_on(api, survivor))
        replace_ms = ms(now() - t0)
        ok = len(guest_at) == len(vnodes) and all(t <= lost_at for t in guest_at.values())
        if not ok:
            self.violate(rnd, f"guests self-fenced at "
                              f"{ {n: ms(t - t0) for n, t in guest_at.items()} } ms, "
                              f"host marked lost at {detect_ms} ms")
        print(f"hostloss: round {rnd}: kill -9 {victim_name}'s stratad: detect_ms={detect_ms} "
              f"replace_ms={replace_ms} guests self-fenced "
              f"{sorted(ms(t - t0) for t in guest_at.values())} ms after the kill", flush=True)
        self.show("the replicas", self.h[survivor], "get", "pods", "-o", "wide")
        self.h[victim].start()
        self.wait("the restarted host's VMs of dead nodes destroyed", lambda: not any(
            self.domain_running(n) for n in vnodes))
        self.add_back(victim, api)
        return detect_ms, replace_ms, ok

    def qemu_pids(self, node):
        r = subprocess.run(["pgrep", "-f", f"guest=strata-{node}(,|$| )"], stdout=subprocess.PIPE,
                           text=True)
        return [int(p) for p in r.stdout.split()]

    def freeze_round(self, rnd):
        """The whole host frozen (SIGSTOP of its stratad and its QEMUs):
        nothing of it runs, its lease lapses, the leader replaces its pods;
        then it thaws (its QEMUs first, the worst order) and must kill its
        VMs at once: the time from the thaw until its QEMUs are gone is
        the window in which its old pods could run beside their
        replacements (reported; bounded by FREEZE_WINDOW_BOUND_MS)."""
        victim, survivor = self.pick_victim()
        victim_name, api, vnodes = self.h[victim].name, self.h[survivor].api, self.nodes_of[victim]
        qemus = [p for n in vnodes for p in self.qemu_pids(n)]
        if len(qemus) != len(vnodes):
            raise SystemExit(f"hostloss: found QEMU pids {qemus} for {vnodes}")
        self.show(f"{victim_name} frozen (SIGSTOP of its stratad and its {len(qemus)} QEMUs): "
                  f"its lease lapses and its pods are replaced; at the thaw it must kill its VMs "
                  f"at once")
        stratad = self.h[victim].proc.pid
        t0 = now()
        for p in [stratad] + qemus:
            os.kill(p, signal.SIGSTOP)
        try:
            self.wait("the frozen host's nodes marked lost",
                      lambda: self.marked_lost(api, vnodes))
            detect_ms = ms(now() - t0)
            self.wait("4 replicas ready on the surviving host",
                      lambda: self.ready_on(api, survivor))
            replace_ms = ms(now() - t0)
        finally:
            t1 = now()
            for p in qemus + [stratad]:
                try:
                    os.kill(p, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        self.wait("the thawed host's QEMUs gone", lambda: not any(
            os.path.exists(f"/proc/{p}") and not open(f"/proc/{p}/stat").read().split()[2] == "Z"
            for p in qemus), every=0.01)
        window_ms = ms(now() - t1)
        ok = window_ms <= FREEZE_WINDOW_BOUND_MS
        if not ok:
            self.violate(rnd, f"the thawed host's QEMUs ran {window_ms} ms after the thaw "
                              f"(bound {FREEZE_WINDOW_BOUND_MS} ms)")
        print(f"hostloss: round {rnd}: froze {victim_name}: detect_ms={detect_ms} "
              f"replace_ms={replace_ms}; at the thaw its VMs were killed within {window_ms} ms",
              flush=True)
        self.wait("the thawed host's API answering from the store", lambda: self.h[victim].api.call(
            "GET", "/api/v1/nodes", timeout=5)[0] == 200)
        self.add_back(victim, api)
        return detect_ms, replace_ms, ok

    def run(self):
        self.setup()
        detects, replaces, oks = [], [], []
        kinds = (self.round, self.kill_round, self.freeze_round)
        for r in range(1, self.a.rounds + 1):
            d, rep, ok = kinds[(r - 1) % len(kinds)](r)
            detects.append(d)
            replaces.append(rep)
            oks.append(ok)
        target = self.lease_ms + 3000
        print(f"hostloss: rounds={self.a.rounds} detect_ms={int(statistics.median(detects))} "
              f"fenced_before_replace={'yes' if all(oks) else 'no'} "
              f"replace_ms={int(statistics.median(replaces))} lease_ms={self.lease_ms} "
              f"target_ms={target} violations={len(self.violations)}", flush=True)
        return 1 if self.violations else 0

    def close(self):
        for h in getattr(self, "h", {}).values():
            h.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--lease-ms", type=int, default=6000)
    p.add_argument("--bin", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--hosts-script", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--show", action="store_true")
    a = p.parse_args()
    b = Bench(a)
    try:
        rc = b.run()
    finally:
        b.close()
    sys.exit(rc)


if __name__ == "__main__":
    main()
