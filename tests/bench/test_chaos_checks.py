"""test_chaos_checks.py: bench/chaos's invariant checks on made-up
observations, no cluster: each check must report what breaks it (else a
chaos run with violations=0 proves nothing) and stay quiet on what a
healthy cluster does (a surge pod in a rolling update, a scale down still
terminating, a pod stopped a moment after it left the store)."""
import io
import os
import sys
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.join(os.environ.get("STRATA_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "bench"))
import chaos  # noqa: E402


def pod(uid, dep, phase="Running", node="n1", terminating=False):
    md = {"name": f"{dep}-{uid}", "uid": uid, "labels": {"app": dep}}
    if terminating:
        md["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    return {"metadata": md, "spec": {"nodeName": node}, "status": {"phase": phase}}


def kinds(state):
    return [k for _, k, _ in state.violations]


class Checks(unittest.TestCase):
    def setUp(self):
        self.out = io.StringIO()
        self.ctx = redirect_stdout(self.out)
        self.ctx.__enter__()
        self.s = chaos.State()
        self.s.settle_allowed("alpha", 2)
        self.s.settle_allowed("beta", 1)

    def tearDown(self):
        self.ctx.__exit__(None, None, None)

    def add(self, p):
        self.s.on_event({"type": "ADDED", "object": p})

    def test_watch_surge(self):
        for u in ("a", "b", "c"):  # replicas 2 + maxSurge 1: fine
            self.add(pod(u, "alpha"))
        self.add(pod("d", "alpha", phase="Pending"))  # not running yet
        self.add(pod("e", "alpha", terminating=True))  # being deleted
        self.assertEqual(self.s.violations, [])
        self.add(pod("f", "alpha"))
        self.assertEqual(kinds(self.s), ["surge (watch)"])
        self.assertIn("4 pods Running", self.s.violations[0][2])

    def test_scale_down_window(self):
        # replicas was 4 since the last convergence: 5 running is allowed
        self.s.raise_allowed("alpha", 4)
        self.s.raise_allowed("alpha", 1)
        for u in "abcde":
            self.add(pod(u, "alpha"))
        self.assertEqual(self.s.violations, [])
        self.s.settle_allowed("alpha", 1)
        self.add(pod("a", "alpha"))
        self.assertEqual(kinds(self.s), ["surge (watch)"])

    def test_pod_on_two_nodes(self):
        self.add(pod("a", "alpha"))
        self.s.on_sweep({"n1": {"a": ("alpha-a", "Running")}, "n2": {"b": ("alpha-b", "Running")}})
        self.assertEqual(self.s.violations, [])
        self.s.on_sweep({"n1": {"a": ("alpha-a", "Running")}, "n2": {"a": ("alpha-a", "Running")}})
        self.assertEqual(kinds(self.s), ["pod on two nodes"])
        self.assertIn("n1, n2", self.s.violations[0][2])

    def test_nodes_surge_needs_two_sweeps(self):
        for u in "abcd":
            self.add(pod(u, "beta"))  # the watch already says too many
        self.s.violations.clear()
        self.s.reported.clear()
        sweep = {"n1": {u: (f"beta-{u}", "Running") for u in "abc"}}
        self.s.on_sweep(sweep)
        self.assertNotIn("surge (nodes)", kinds(self.s))  # one sweep may lag the watch
        self.s.on_sweep(sweep)
        self.assertIn("surge (nodes)", kinds(self.s))

    def test_orphan(self):
        self.add(pod("a", "beta"))
        self.s.on_event({"type": "DELETED", "object": pod("a", "beta")})
        running = {"n1": {"a": ("beta-a", "Running")}}
        self.s.on_sweep(running)  # just deleted: its node is stopping it
        self.assertEqual(self.s.violations, [])
        self.s.deleted["a"] = (self.s.deleted["a"][0] - chaos.ORPHAN_S - 1, "beta")
        self.s.on_sweep(running)
        self.assertEqual(kinds(self.s), ["orphan"])

    def test_one_report_per_round(self):
        for u in "abcd":
            self.add(pod(u, "alpha"))
        self.add(pod("e", "alpha"))
        self.assertEqual(kinds(self.s), ["surge (watch)"])
        self.s.round = 1
        self.add(pod("f", "alpha"))
        self.assertEqual(kinds(self.s), ["surge (watch)", "surge (watch)"])


class AcknowledgedWrites(unittest.TestCase):
    def test_lost_write(self):
        w = chaos.Writes()
        k = ("alpha", "replicas")
        w.record(k, 2, True, 1)
        self.assertIsNone(w.check(k, 2))
        w.record(k, 3, False, 2)  # no answer: it may or may not have landed
        self.assertIsNone(w.check(k, 3))
        self.assertIsNone(w.check(k, 2))
        self.assertIn("2 was acknowledged", w.check(k, 1))
        w.record(k, 4, True, 3)  # acknowledged: only 4 will do
        self.assertIsNotNone(w.check(k, 3))
        self.assertIsNone(w.check(k, 4))
        w.settle(k, 4)
        self.assertIsNone(w.check(k, 4))


if __name__ == "__main__":
    unittest.main()
