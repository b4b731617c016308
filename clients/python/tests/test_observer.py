"""swarm_lite's member behaviour (docs/protocol.md "Taking part as a member"), driven packet by packet
from a raw UDP socket on loopback that plays a full node: ping -> ack, ping-req relaying with ack
and nack, refutation, the join and anti-entropy exchanges, keyed drops."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import swarm_lite as sl  # noqa: E402

NODE = "node-a"


def rec(mid, port, inc=5, status=0):
    return [mid, mid, "127.0.0.1", port, "standard", inc, status, [None] * 7]


class Peer:
    """A fake full node: a UDP socket that sends and receives decoded messages."""

    def __init__(self, gcm=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.05)
        self.port = self.s.getsockname()[1]
        self.gcm = gcm

    def send(self, obs, mtype, body):
        pkt = bytes(sl.pack(body, bytearray((1, mtype))))
        if self.gcm is not None:
            nonce = os.urandom(12)
            pkt = b"\x81" + nonce + self.gcm.seal(nonce, pkt, b"\x81")
        self.s.sendto(pkt, ("127.0.0.1", obs.port))

    def recv_all(self, obs, ms=300):
        out = []
        end = time.time() + ms / 1000
        while time.time() < end:
            obs.poll(10)
            try:
                data, _ = self.s.recvfrom(2000)
            except socket.timeout:
                continue
            if self.gcm is not None:
                data = self.gcm.open(data[1:13], data[13:], b"\x81")
            body, _ = sl.unpack(data, 2)
            out.append((data[1], body))
        return out

    def close(self):
        self.s.close()


class ObserverTest(unittest.TestCase):
    def setUp(self):
        self.node = Peer()
        self.obs = sl.Swarm("127.0.0.1:%d" % self.node.port, "obs", bind="127.0.0.1")

    def tearDown(self):
        self.obs.close()
        self.node.close()

    def join(self):
        """Answer the observer's join as a seed would: the seed's table in a pp-response."""
        first = self.node.recv_all(self.obs, 200)
        types = [t for t, _ in first]
        self.assertEqual(types[:2], [sl.GOSSIP, sl.PP_DIGEST])
        digest = first[1][1]
        self.assertEqual(digest[2:8], [False, True, 0, 1, "", ""])
        self.assertEqual(digest[8], [[self.obs.id, self.obs.inc, 0]])
        self.node.send(self.obs, sl.PP_RESPONSE, [NODE, digest[1], [rec(NODE, self.node.port)], []])
        self.node.recv_all(self.obs, 100)
        self.assertTrue(self.obs.joined)

    def test_join_record_is_minimal_and_spread_on_join(self):
        first = self.node.recv_all(self.obs, 200)
        alive = first[0][1][1][0]
        self.assertEqual(alive[0], sl.ALIVE)
        self.assertEqual(alive[1][:7], [self.obs.id, "obs", "127.0.0.1", self.obs.port, "minimal", self.obs.inc, 0])
        self.assertIsNone(alive[1][7][6])  # no tags: no raft_addr, never a Raft member
        self.node.send(self.obs, sl.PP_RESPONSE, [NODE, first[1][1][1], [rec(NODE, self.node.port)], []])
        after = self.node.recv_all(self.obs, 150)
        self.assertIn(sl.GOSSIP, [t for t, _ in after])  # its alive, spread at once on joining

    def test_ping_ack_exact_bytes_and_wrong_target_ignored(self):
        self.join()
        self.node.send(self.obs, sl.PING, [NODE, 77, self.obs.id, []])
        got = self.node.recv_all(self.obs, 200)
        acks = [b for t, b in got if t == sl.ACK]
        self.assertEqual(len(acks), 1)
        # The first acks after a join carry its alive record; later ones are the pre-encoded form.
        for _ in range(4):
            self.node.send(self.obs, sl.PING, [NODE, 78, self.obs.id, []])
            got = self.node.recv_all(self.obs, 100)
        self.assertEqual([b for t, b in got], [[self.obs.id, 78, self.obs.id, []]])
        self.node.send(self.obs, sl.PING, [NODE, 79, "someone-else", []])
        self.assertEqual(self.node.recv_all(self.obs, 200), [])
        # Full nodes probe with target "" (docs/protocol.md "Answer probes"): answered with the compact
        # ack, target "" (= from), 2 + len(id) bytes shorter than the full one.
        self.node.send(self.obs, sl.PING, [NODE, 80, "", []])
        self.assertEqual([b for t, b in self.node.recv_all(self.obs, 200)], [[self.obs.id, 80, "", []]])
        full = sl.pack([self.obs.id, 80, self.obs.id, []])
        compact = sl.pack([self.obs.id, 80, "", []])
        self.assertEqual(len(full) - len(compact), len(sl.pack(self.obs.id)) - 1)

    def test_ping_req_relays_the_ack(self):
        self.join()
        target = Peer()
        try:
            self.node.send(self.obs, sl.PING_REQ, [NODE, 9, "t1", "127.0.0.1", target.port, True, []])
            pings = [b for t, b in target.recv_all(self.obs, 200) if t == sl.PING]
            self.assertEqual(len(pings), 1)
            self.assertEqual(pings[0][0], self.obs.id)
            self.assertEqual(pings[0][2], "t1")
            target.send(self.obs, sl.ACK, ["t1", pings[0][1], "t1", []])
            got = [b for t, b in self.node.recv_all(self.obs, 200) if t == sl.ACK]
            self.assertEqual(got, [[self.obs.id, 9, "t1", []]])
            time.sleep(0.6)
            self.assertEqual([t for t, _ in self.node.recv_all(self.obs, 100)], [])  # no nack after an ack
        finally:
            target.close()

    def test_ping_req_silent_target_gets_a_nack(self):
        self.join()
        target = Peer()
        try:
            self.node.send(self.obs, sl.PING_REQ, [NODE, 10, "t2", "127.0.0.1", target.port, True, []])
            got = self.node.recv_all(self.obs, 900)
            self.assertEqual([b for t, b in got if t == sl.NACK], [[self.obs.id, 10, "t2"]])
        finally:
            target.close()

    def test_refutes_a_suspicion_in_the_next_ack(self):
        self.join()
        inc = self.obs.inc
        self.node.send(self.obs, sl.PING, [NODE, 5, self.obs.id, [[sl.SUSPECT, self.obs.id, inc, NODE]]])
        acks = [b for t, b in self.node.recv_all(self.obs, 200) if t == sl.ACK]
        self.assertEqual(self.obs.inc, inc + 1)
        self.assertEqual(acks[0][3][0][1][5], inc + 1)  # its alive at the new incarnation rides the ack

    def test_digest_exchanges(self):
        self.join()
        # The node's anti-entropy digest lists a member we lack and omits us: we ask and push.
        self.node.send(self.obs, sl.PP_DIGEST, [NODE, 3, False, False, 0, 1, "", "", [[NODE, 5, 0], ["n2", 1, 0]], []])
        got = self.node.recv_all(self.obs, 200)
        self.assertIn((sl.PP_REQUEST, [self.obs.id, 3, ["n2"]]), got)
        pushed = [b for t, b in got if t == sl.PP_RESPONSE]
        self.assertEqual(pushed[0][2][0][0], self.obs.id)
        # A request for our record is answered with it.
        self.node.send(self.obs, sl.PP_REQUEST, [NODE, 4, [self.obs.id]])
        got = [b for t, b in self.node.recv_all(self.obs, 200) if t == sl.PP_RESPONSE]
        self.assertEqual(got[0][1], 4)
        # Member updates: suspect, dead, then a newer alive.
        self.node.send(self.obs, sl.GOSSIP, [NODE, [[sl.ALIVE, rec("n3", 1, 2)], [sl.DEAD, "n3", 2, NODE]], []])
        self.node.recv_all(self.obs, 100)
        self.assertEqual([m["status"] for m in self.obs.members() if m["id"] == "n3"], ["dead"])
        self.node.send(self.obs, sl.GOSSIP, [NODE, [[sl.ALIVE, rec("n3", 1, 3)]], []])
        self.node.recv_all(self.obs, 100)
        self.assertEqual([m["status"] for m in self.obs.members() if m["id"] == "n3"], ["alive"])

    def test_events_delivered_once_and_grafted(self):
        self.join()
        got = []
        self.obs.on_event("*", lambda n, p, o: got.append((n, p, o)))
        ev = ["n7", 12, "deploy", b'{"v":2}']
        self.node.send(self.obs, sl.EV_PUSH, [NODE, [ev], [1]])
        self.node.send(self.obs, sl.EV_PUSH, [NODE, [ev], [1]])
        self.node.send(self.obs, sl.IHAVE, [NODE, [["n7", 12], ["n7", 13]]])
        out = self.node.recv_all(self.obs, 200)
        self.assertEqual(got, [("deploy", b'{"v":2}', "n7")])
        self.assertEqual([b for t, b in out if t == sl.GRAFT], [[self.obs.id, [["n7", 13]]]])
        self.assertNotIn(sl.PRUNE, [t for t, _ in out])

    def test_leave(self):
        self.join()
        self.obs.leave()  # it closes its socket: read what it sent without polling it
        msgs = []
        try:
            while True:
                p = self.node.s.recvfrom(2000)[0]
                msgs.append((p[1], sl.unpack(p, 2)[0]))
        except socket.timeout:
            pass
        self.assertIn((sl.LEAVE, [self.obs.id, self.obs.inc]), msgs)
        self.assertIn((sl.GOSSIP, [self.obs.id, [[sl.LEFT, self.obs.id, self.obs.inc]], []]), msgs)
        self.assertEqual(self.obs.status, sl.LEFT)

    def test_leave_goes_to_full_members_first(self):
        # Four observers learned before the full node: observers pass no update on, so the one
        # leave the observer sends must reach the full node (the test/python leave flake).
        self.node.recv_all(self.obs, 200)
        sinks = [Peer() for _ in range(4)]
        try:
            obs_recs = [["esp%d" % i, "esp%d" % i, "127.0.0.1", s.port, "minimal", 3, 0, [None] * 7]
                        for i, s in enumerate(sinks)]
            self.node.send(self.obs, sl.PP_RESPONSE, [NODE, 1, obs_recs + [rec(NODE, self.node.port)], []])
            self.node.recv_all(self.obs, 100)
            self.obs.leave()
            got = []
            try:
                while True:
                    p = self.node.s.recvfrom(2000)[0]
                    got.append(p[1])
            except socket.timeout:
                pass
            self.assertIn(sl.LEAVE, got)
            self.assertIn(sl.GOSSIP, got)
        finally:
            for s in sinks:
                s.close()


class KeyedTest(unittest.TestCase):
    def test_plaintext_and_wrong_key_dropped(self):
        key = bytes(range(32))
        node = Peer(sl.GCM(key))
        obs = sl.Swarm("127.0.0.1:%d" % node.port, "obs-k", key=key, bind="127.0.0.1")
        try:
            first = node.recv_all(obs, 200)  # decrypts with the key: sealed as the nodes seal
            self.assertEqual([t for t, _ in first][:2], [sl.GOSSIP, sl.PP_DIGEST])
            plain = Peer()
            plain.send(obs, sl.PING, [NODE, 1, obs.id, []])
            wrong = Peer(sl.GCM(bytes(32)))
            wrong.send(obs, sl.PING, [NODE, 2, obs.id, []])
            obs.poll(50)
            self.assertEqual(obs.stats["dropped"], 2)
            self.assertEqual(plain.recv_all(obs, 100) + wrong.recv_all(obs, 100), [])
            plain.close()
            wrong.close()
        finally:
            obs.close()
            node.close()


if __name__ == "__main__":
    unittest.main()
