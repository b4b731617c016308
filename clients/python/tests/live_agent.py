"""swarm_agent.py against real daemons: run by test/python/agent.test.ts with SWARM_TEST_APIS set to
the API URLs of 3 nodes of one swarm (not a unittest discovery pattern: it needs the daemons).

Tests whose routes come from other branches skip themselves while the route answers 404 (i.e.
before that branch is merged), and say which branch: [coord] watch/leases/locks/elections,
[events] swarm events, [tasks] tasks.
"""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from swarm_agent import (  # noqa: E402
    ApiRequestError,
    NodeUnreachableError,
    SwarmClient,
)

APIS = [u for u in os.environ.get("SWARM_TEST_APIS", "").split(",") if u]
RUN = "%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000)


def clients():
    return [SwarmClient(u, timeout_s=5) for u in APIS]


def needs(route_check, branch):
    """Skip (naming the branch) while the route does not exist on this build."""
    try:
        route_check()
    except ApiRequestError as e:
        if e.status == 404 and e.code == "not_found":
            raise unittest.SkipTest("needs branch %s (route answers 404)" % branch)
        raise


@unittest.skipUnless(len(APIS) >= 3, "SWARM_TEST_APIS not set (run through test/python/agent.test.ts)")
class NodeApiTest(unittest.TestCase):
    def test_status_health_members_leader(self):
        c = clients()
        st = c[0].status()
        self.assertEqual(len(st["id"]), 16)
        self.assertEqual(c[1].health()["status"], "ok")
        m = c[2].members()
        self.assertEqual(len([x for x in m["members"] if x["status"] == "alive"]), 3)
        ld = c[1].leader()
        self.assertIn(ld["leader"], [x["id"] for x in m["members"]])
        self.assertEqual(len(ld["voters"]), 3)

    def test_energy(self):
        c = clients()
        e = c[0].energy()
        self.assertGreater(e["power"]["watts"], 0)
        sw = c[1].energy_swarm()
        self.assertEqual(sw["totals"]["members"], 3)
        self.assertIn("swarm_", c[2].metrics_text())

    def test_kv_across_nodes(self):
        c = clients()
        key = "py/%s/list/a b/é" % RUN
        put = c[0].kv_put(key, {"t": 21.5, "tags": ["x"]})
        self.assertGreater(put["revision"], 0)
        got = c[1].kv_get(key)  # linearizable read at another node
        self.assertEqual(got["value"], {"t": 21.5, "tags": ["x"]})
        self.assertEqual(got["revision"], put["revision"])
        items = c[2].kv_list("py/%s/list/" % RUN)["items"]
        self.assertEqual([i["key"] for i in items], [key])
        d = c[2].kv_delete(key)
        self.assertTrue(d["deleted"])
        with self.assertRaises(ApiRequestError) as cm:
            c[0].kv_get(key)
        self.assertEqual((cm.exception.status, cm.exception.code), (404, "not_found"))

    def test_compare_and_set(self):
        c = clients()
        key = "py/%s/cas" % RUN
        first = c[0].kv_put(key, 1, prev_revision=0)  # must not exist
        with self.assertRaises(ApiRequestError) as cm:
            c[1].kv_put(key, 2, prev_revision=0)
        self.assertEqual((cm.exception.status, cm.exception.code), (409, "revision_mismatch"))
        self.assertEqual(cm.exception.body["current_revision"], first["revision"])
        second = c[1].kv_put(key, 2, prev_revision=first["revision"])
        with self.assertRaises(ApiRequestError):
            c[2].kv_put(key, 3, prev_revision=first["revision"])  # stale revision
        self.assertEqual(c[2].kv_get(key)["value"], 2)
        self.assertGreater(second["revision"], first["revision"])

    def test_cas_counter_from_threads(self):
        """Increments through CAS from 3 nodes at once: none lost."""
        c = clients()
        key = "py/%s/counter" % RUN
        c[0].kv_put(key, 0)

        def worker(cl, n):
            for _ in range(n):
                for _attempt in range(50):
                    cur = cl.kv_get(key)
                    try:
                        cl.kv_put(key, cur["value"] + 1, prev_revision=cur["revision"])
                        break
                    except ApiRequestError as e:
                        if e.code != "revision_mismatch":
                            raise

        ts = [threading.Thread(target=worker, args=(cl, 5)) for cl in c]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(c[0].kv_get(key)["value"], 15)

    def test_errors(self):
        c = clients()[0]
        with self.assertRaises(ApiRequestError) as cm:
            c.kv_put("k" * 600, 1)
        self.assertEqual((cm.exception.status, cm.exception.code), (413, "too_large"))
        with self.assertRaises(NodeUnreachableError):
            SwarmClient("http://127.0.0.1:9", timeout_s=1).status()


@unittest.skipUnless(len(APIS) >= 3, "SWARM_TEST_APIS not set")
class CoordTest(unittest.TestCase):
    """[coord] watch, leases, locks, elections (issue #17)."""

    def setUp(self):
        self.c = clients()
        needs(lambda: self.c[0].lease_grant(2), "coord")

    def test_watch_sse_sees_puts_and_deletes_in_order(self):
        key = "py/%s/w" % RUN
        start = self.c[0].kv_put(key + "/0", 0)["revision"]
        stop = threading.Event()
        seen = []

        def watch():
            for ev in self.c[1].watch(prefix=key + "/", from_revision=start + 1, stop=stop):
                seen.append(ev)
                if len(seen) >= 4:
                    return

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        for i in range(1, 4):
            self.c[2].kv_put("%s/%d" % (key, i), i)
        self.c[0].kv_delete(key + "/1")
        t.join(20)
        stop.set()
        self.assertEqual([e["type"] for e in seen], ["put", "put", "put", "delete"])
        revs = [e["revision"] for e in seen]
        self.assertEqual(revs, sorted(revs))
        self.assertEqual(seen[3]["key"], key + "/1")

    def test_watch_long_poll(self):
        key = "py/%s/lp" % RUN
        rev = self.c[0].kv_put(key, "x")["revision"]
        r = self.c[1].watch_poll(key=key, from_revision=rev, wait_s=5)
        self.assertEqual([e["value"] for e in r["events"]], ["x"])

    def test_lease_keeps_key_until_revoked(self):
        key = "py/%s/leased" % RUN
        with self.c[0].lease(ttl_s=2) as lease:
            self.c[1].kv_put(key, "alive", lease=lease.id)
            time.sleep(3.5)  # past the ttl: the keep-alive thread holds it
            self.assertEqual(self.c[2].kv_get(key)["value"], "alive")
        for _ in range(50):
            try:
                self.c[2].kv_get(key)
            except ApiRequestError as e:
                if e.status == 404:
                    return
            time.sleep(0.1)
        self.fail("a revoked lease's key was not deleted")

    def test_lease_expires_without_keepalive(self):
        key = "py/%s/expiring" % RUN
        lease = self.c[0].lease(ttl_s=1, keepalive=False)
        self.c[0].kv_put(key, 1, lease=lease.id)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.c[1].kv_get(key)
            except ApiRequestError as e:
                if e.status == 404:
                    return
            time.sleep(0.2)
        self.fail("key of an expired lease still there")

    def test_lock_mutual_exclusion_and_fencing(self):
        name = "py-%s" % RUN
        holding, overlaps, revisions = [0], [0], []
        lock_ = threading.Lock()

        def agent(cl):
            for _ in range(3):
                with cl.lock(name, ttl_s=5, wait_s=30) as lk:
                    with lock_:
                        holding[0] += 1
                        overlaps[0] = max(overlaps[0], holding[0])
                        revisions.append(lk.revision)
                    time.sleep(0.05)
                    with lock_:
                        holding[0] -= 1

        ts = [threading.Thread(target=agent, args=(cl,)) for cl in self.c]
        for t in ts:
            t.start()
        for t in ts:
            t.join(90)
        self.assertEqual(overlaps[0], 1)
        self.assertEqual(len(revisions), 9)
        self.assertEqual(revisions, sorted(revisions))
        self.assertEqual(len(set(revisions)), 9)

    def test_election_one_leader_then_handover(self):
        name = "py-el-%s" % RUN
        first = self.c[0].election(name, "agent-a", ttl_s=5).campaign()
        self.assertEqual(self.c[1].election_leader(name)["leader"]["value"], "agent-a")
        second_led = threading.Event()
        holder = {}

        def second():
            with self.c[2].election(name, "agent-b", ttl_s=5) as e:
                holder["leader"] = e.leader
                second_led.set()

        t = threading.Thread(target=second, daemon=True)
        t.start()
        self.assertFalse(second_led.wait(1.5))  # only one leader at a time
        first.resign()
        self.assertTrue(second_led.wait(20))
        self.assertEqual(holder["leader"]["value"], "agent-b")
        t.join(10)


@unittest.skipUnless(len(APIS) >= 3, "SWARM_TEST_APIS not set")
class EventsTest(unittest.TestCase):
    """[events] swarm events (issue #17)."""

    def test_event_reaches_another_node(self):
        c = clients()
        needs(lambda: c[0].events_recent(), "events")
        stop = threading.Event()
        got = []
        ready = threading.Event()

        def watch():
            for ev in c[1].events_watch(name="py-ev", stop=stop):
                got.append(ev)
                return

        # Subscribe first: a stream starts "now"; the recent list proves delivery either way.
        t = threading.Thread(target=watch, daemon=True)
        t.start()
        ready.wait(0.5)
        sent = c[0].event_send("py-ev", '{"n":1}')
        t.join(15)
        stop.set()
        self.assertEqual([(e["id"], e["payload"]) for e in got], [(sent["id"], '{"n":1}')])
        # The third node hears it by gossip too, a few rounds later: wait for it, do not race it.
        deadline = time.time() + 10
        ids = []
        while time.time() < deadline:
            ids = [e["id"] for e in c[2].events_recent(name="py-ev")["events"]]
            if sent["id"] in ids:
                break
            time.sleep(0.1)
        self.assertIn(sent["id"], ids)


@unittest.skipUnless(len(APIS) >= 3, "SWARM_TEST_APIS not set")
class TasksTest(unittest.TestCase):
    """[tasks] tasks (issue #18): run, list, status, stop."""

    def test_run_list_status_logs_stop(self):
        c = clients()
        needs(lambda: c[0].task_list(), "tasks")
        name = "py-echo-%s" % RUN
        c[0].task_run({"name": name, "command": ["sh", "-c", "echo hello-from-task; sleep 60"], "count": 1})
        self.assertIn(name, [t["name"] for t in c[1].task_list()["tasks"]])
        deadline = time.time() + 30
        st = c[2].task_status(name)
        while time.time() < deadline and st["running"] < 1:
            time.sleep(0.5)
            st = c[2].task_status(name)
        self.assertEqual(st["running"], 1)
        logs = ""
        while time.time() < deadline and "hello-from-task" not in logs:
            logs = c[1].task_logs(name)["data"]  # read through any node
            time.sleep(0.3)
        self.assertIn("hello-from-task", logs)
        stopped = c[0].task_stop(name)
        self.assertEqual(stopped["desired"], "stop")


if __name__ == "__main__":
    unittest.main(verbosity=2)
