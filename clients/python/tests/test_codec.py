"""swarm_lite's MessagePack subset against every gossip vector of docs/protocol.md (decode, then
re-encode byte for byte), the encrypted vector, and the decoder's refusals."""
import os
import re
import sys
import unittest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, ".."))
import swarm_lite as sl  # noqa: E402

DOC = os.path.join(HERE, "..", "..", "..", "docs", "protocol.md")


def vectors():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    out = []
    for block in re.findall(r"```vector\n(.*?)```", text, re.S):
        fields, hexpart = block.split("hex:\n")
        meta = dict(re.findall(r"^(\w+): (.*)$", fields, re.M))
        out.append((meta, bytes.fromhex(hexpart.replace("\n", " ").replace(" ", ""))))
    return out


class VectorTest(unittest.TestCase):
    def test_doc_has_gossip_vectors(self):
        names = [m["name"] for m, _ in vectors()]
        for n in ("gossip/ping", "gossip/ack", "gossip/pp-digest", "gossip/pp-response", "gossip/leave",
                  "gossip/ev-push", "gossip/ihave", "gossip/user-event", "gossip/leave encrypted"):
            self.assertIn(n, names)

    def test_plain_gossip_vectors_round_trip(self):
        n = 0
        for meta, raw in vectors():
            if not meta["name"].startswith("gossip/") or raw[0] != 1:
                continue
            with self.subTest(vector=meta["name"]):
                body, end = sl.unpack(raw, 2)
                self.assertEqual(end, len(raw))
                self.assertIsInstance(body, list)
                self.assertEqual(bytes(sl.pack(body, bytearray(raw[:2]))), raw)
                n += 1
        self.assertGreaterEqual(n, 16)

    def test_encrypted_vector(self):
        for meta, raw in vectors():
            if meta["name"] != "gossip/leave encrypted":
                continue
            key = sl.parse_key(meta["key"])
            nonce = bytes.fromhex(meta["nonce"])
            g = sl.GCM(key)
            self.assertEqual(raw[0], 0x81)
            self.assertEqual(raw[1:13], nonce)
            plain = g.open(nonce, raw[13:], b"\x81")
            self.assertEqual(plain, bytes.fromhex("010f92a16204"))
            self.assertEqual(b"\x81" + nonce + g.seal(nonce, plain, b"\x81"), raw)

    def test_field_values(self):
        for meta, raw in vectors():
            if meta["name"] == "gossip/ping":
                body, _ = sl.unpack(raw, 2)
                self.assertEqual(body, ["a", 7, "b", [[1, "c", 2, "a"], [3, "d", 9]]])
            if meta["name"] == "gossip/pp-response":
                body, _ = sl.unpack(raw, 2)
                rec = body[2][0]
                self.assertEqual(rec[:7], ["a", "node-a", "10.0.0.1", 5555, "standard", 3, 0])
                self.assertEqual(rec[7], ["10.0.0.1:8080", "leader", 2.5, 80, "normal", "A", None])


class EncodeTest(unittest.TestCase):
    def test_smallest_encodings(self):
        cases = [(0, "00"), (127, "7f"), (128, "cc80"), (256, "cd0100"), (65536, "ce00010000"),
                 (2**32, "cf0000000100000000"), (-1, "ff"), (-33, "d0df"), (-129, "d1ff7f"),
                 (2.5, "cb4004000000000000"), (80.0, "50"), (None, "c0"), (True, "c3"), (False, "c2"),
                 ("", "a0"), ("x" * 32, "d920" + "78" * 32), (b"\x01", "c40101"), ([], "90"),
                 ({"b": "1", "a": "2"}, "82a161a132a162a131")]
        for v, h in cases:
            with self.subTest(v=v):
                self.assertEqual(bytes(sl.pack(v)).hex(), h)
                self.assertEqual(sl.unpack(bytes.fromhex(h))[0], v)

    def test_refusals(self):
        for h in ("", "c1", "d40100", "92", "a3616263"[:6], "dc0005", "81 01 02".replace(" ", ""),
                  "c4ff00", "a1ff"):
            with self.subTest(h=h):
                with self.assertRaises(sl.DecodeError):
                    sl.unpack(bytes.fromhex(h))


if __name__ == "__main__":
    unittest.main()
