"""AES-256 (FIPS-197 C.3) and AES-256-GCM (NIST SP 800-38D / the GCM spec's test cases 13-16) in swarm_lite."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import swarm_lite as sl  # noqa: E402

K15 = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
IV15 = bytes.fromhex("cafebabefacedbaddecaf888")
P15 = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
)
C15 = bytes.fromhex(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"
)
A16 = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")

# (key, iv, plaintext, aad, ciphertext, tag)
VECTORS = [
    (bytes(32), bytes(12), b"", b"", b"", "530f8afbc74536b9a963b4f1c4cb738b"),
    (bytes(32), bytes(12), bytes(16), b"", bytes.fromhex("cea7403d4d606b6e074ec5d3baf39d18"),
     "d0d1c8a799996bf0265b98b5d48ab919"),
    (K15, IV15, P15, b"", C15, "b094dac5d93471bdec1a502270e3cc6c"),
    (K15, IV15, P15[:60], A16, C15[:60], "76fc6ece0f4e1768cddf8853bb2d551b"),
]


class AesTest(unittest.TestCase):
    def test_fips197_aes256(self):
        e = sl.AES256(bytes(range(32)))
        out = e.encrypt(bytes.fromhex("00112233445566778899aabbccddeeff"))
        self.assertEqual(out.hex(), "8ea2b7ca516745bfeafc49904b496089")

    def test_rejects_short_key(self):
        with self.assertRaises(ValueError):
            sl.AES256(bytes(16))


class GcmTest(unittest.TestCase):
    def test_nist_vectors_seal(self):
        for i, (k, iv, p, a, c, t) in enumerate(VECTORS):
            with self.subTest(case=13 + i):
                self.assertEqual(sl.GCM(k).seal(iv, p, a).hex(), (c + bytes.fromhex(t)).hex())

    def test_nist_vectors_open(self):
        for i, (k, iv, p, a, c, t) in enumerate(VECTORS):
            with self.subTest(case=13 + i):
                self.assertEqual(sl.GCM(k).open(iv, c + bytes.fromhex(t), a), p)

    def test_any_flipped_bit_fails(self):
        k, iv, p, a, c, t = VECTORS[3]
        sealed = bytearray(c + bytes.fromhex(t))
        g = sl.GCM(k)
        for pos in (0, 30, len(sealed) - 1):
            bad = bytearray(sealed)
            bad[pos] ^= 1
            self.assertIsNone(g.open(iv, bytes(bad), a))
        self.assertIsNone(g.open(iv, bytes(sealed), a + b"x"))
        self.assertIsNone(g.open(iv, bytes(sealed[:10]), a))

    def test_swarm_key_parsing(self):
        self.assertEqual(sl.parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), bytes(range(32)))
        with self.assertRaises(ValueError):
            sl.parse_key("AAEC")
        with self.assertRaises(ValueError):
            sl.parse_key("not base64!")


if __name__ == "__main__":
    unittest.main()
