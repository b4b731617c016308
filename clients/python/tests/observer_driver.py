"""Runs one swarm_lite observer for the real-daemon tests (test/python/observer.test.ts).

argv: SEED NAME [--key K] [--battery B] [--power W] [--labels k=v,...]
stdout: one JSON line per fact ("ready", "joined", "event", "member", "stats"); stdin: "leave",
"stats", "publish B W", "emit NAME PAYLOAD", "kv_put KEY JSON" or "kv_get KEY" lines. Runs until told to leave, or until killed."""
import json
import os
import select
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def say(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def main():
    args = sys.argv[1:]
    opts = {}
    while len(args) > 2 and args[-2].startswith("--"):
        opts[args[-2][2:]] = args[-1]
        args = args[:-2]
    seed, name = args[0], args[1]
    trace = "trace" in opts
    if trace:
        tracemalloc.start()
    t0 = time.monotonic()
    import swarm_lite

    base = import_peak = 0
    if trace:
        # The import's peak is the compiler's (a board runs precompiled .mpy), and what the import
        # keeps is code: both apart, so the figures below are the observer's own heap.
        base, import_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
    labels = dict(kv.split("=", 1) for kv in opts["labels"].split(",")) if "labels" in opts else None
    sw = swarm_lite.Swarm(seed, name, key=opts.get("key"), labels=labels, bind="127.0.0.1")
    sw.on_event("*", lambda n, p, o: say(kind="event", name=n, payload=p.decode("utf-8", "replace"), origin=o))
    sw.on_member(lambda m: say(kind="member", id=m["id"], status=m["status"]))
    if "battery" in opts or "power" in opts:
        sw.publish(battery=float(opts.get("battery", 0)), power_w=float(opts.get("power", 0)))
    say(kind="ready", id=sw.id, port=sw.port)
    joined = False
    while True:
        sw.poll(100)
        if not joined and sw.joined:
            joined = True
            say(kind="joined", ms=int((time.monotonic() - t0) * 1000))
        r, _, _ = select.select([sys.stdin], [], [], 0)
        if not r:
            continue
        line = sys.stdin.readline()
        if not line:
            return  # the test runner went away
        cmd = line.split()
        if cmd and cmd[0] == "leave":
            sw.leave()
            say(kind="left")
            return
        if cmd and cmd[0] == "publish":
            sw.publish(battery=float(cmd[1]), power_w=float(cmd[2]))
        try:
            if cmd and cmd[0] == "kv_put":
                say(kind="kv_put", revision=sw.kv_put(cmd[1], json.loads(cmd[2])))
            if cmd and cmd[0] == "kv_get":
                say(kind="kv_get", value=sw.kv_get(cmd[1]))
        except OSError as e:  # HttpError included: the test sees it as a line
            say(kind="error", error=str(e))
        if cmd and cmd[0] == "emit":
            say(kind="emitted", seq=sw.emit(cmd[1], cmd[2] if len(cmd) > 2 else ""))
        if cmd and cmd[0] == "stats":
            cur, peak = tracemalloc.get_traced_memory() if trace else (0, 0)
            say(kind="stats", stats=sw.stats, members=len(sw.members()), tracemalloc_peak=peak - base,
                tracemalloc_current=cur - base, tracemalloc_import_peak=import_peak, tracemalloc_module=base)


if __name__ == "__main__":
    main()
