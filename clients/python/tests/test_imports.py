"""swarm_lite imports nothing outside the modules CPython and MicroPython share: it is loaded, and
made to work (crypto, codec, a loopback exchange), with an import hook that hides everything else."""
import builtins
import os
import sys
import unittest

HERE = os.path.dirname(__file__)
PATH = os.path.join(HERE, "..", "swarm_lite.py")
SHARED = {"socket", "struct", "time", "json", "hashlib", "select", "ucryptolib", "cryptolib"}


class ImportSetTest(unittest.TestCase):
    def test_only_shared_modules(self):
        requested = []
        real_import = builtins.__import__

        def hook(name, globals=None, locals=None, fromlist=(), level=0):
            caller = (globals or {}).get("__name__", "")
            if caller == "swarm_lite_hidden":
                requested.append(name)
                if name.split(".")[0] not in SHARED:
                    raise ImportError("hidden by test: " + name)
                if name in ("ucryptolib", "cryptolib"):
                    raise ImportError("no " + name + " on CPython")
            return real_import(name, globals, locals, fromlist, level)

        with open(PATH, encoding="utf-8") as f:
            src = f.read()
        mod = type(sys)("swarm_lite_hidden")
        mod.__file__ = PATH
        builtins.__import__ = hook
        try:
            exec(compile(src, PATH, "exec"), mod.__dict__)
            # Exercise it under the hook too: lazily imported modules would show up here.
            g = mod.GCM(bytes(32))
            self.assertEqual(g.seal(bytes(12), b"").hex(), "530f8afbc74536b9a963b4f1c4cb738b")
            a = mod.Swarm("127.0.0.1:9", "probe-a", bind="127.0.0.1", key=bytes(32))
            b = mod.Swarm("127.0.0.1:%d" % a.port, "probe-b", bind="127.0.0.1", key=bytes(32))
            for _ in range(20):
                a.poll(20)
                b.poll(20)
            self.assertTrue(a.joined and b.joined)
            self.assertIn("probe-a", [m["name"] for m in b.members()])
            a.publish(battery=50, power_w=0.1)
            b.poll(50)
            self.assertEqual([m["battery"] for m in b.members() if m["name"] == "probe-a"], [50.0])
            a.leave()
            b.close()
        finally:
            builtins.__import__ = real_import
        self.assertTrue(requested)
        self.assertEqual(sorted(set(n for n in requested if n.split(".")[0] not in SHARED)), [])


if __name__ == "__main__":
    unittest.main()
