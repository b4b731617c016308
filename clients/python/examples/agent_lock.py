"""A Python agent that takes a swarm-wide lock before using a shared camera, and fences its writes.

    python3 agent_lock.py http://127.0.0.1:5557 agent-1
"""
import sys
import time

from swarm_agent import ApiRequestError, SwarmClient

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:5557"
me = sys.argv[2] if len(sys.argv) > 2 else "agent-1"
c = SwarmClient(url)

# The lock lives on a lease kept alive by a background thread; if this process dies the lease
# expires after ttl_s and the next agent in line gets the lock.
with c.lock("camera", ttl_s=10, wait_s=60, owner=me) as lk:
    print("%s holds the camera (fencing token %d)" % (me, lk.revision))
    for i in range(5):
        lk.check()  # raises LeaseLostError if the lease ended (e.g. this process was paused too long)
        # Writers record the token; a resource refuses a token lower than the last it saw.
        try:
            c.kv_put("camera/last", {"by": me, "shot": i, "fence": lk.revision})
        except ApiRequestError as e:
            print("write refused:", e)
        time.sleep(1)
print("%s released the camera" % me)
