"""Reference peer for bench-kube: the official Python client lists and watches N Services.
Usage: python_bench.py KUBECONFIG N WATCH_RV. Prints 'list SECONDS' and 'watch SECONDS'."""
import sys
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
n = int(sys.argv[2])
v1 = client.CoreV1Api()
t = time.monotonic()
items, cont = 0, None
while True:
    page = v1.list_namespaced_service("bench", limit=500, _continue=cont)
    items += len(page.items)
    cont = page.metadata._continue
    if not cont:
        break
print("list", time.monotonic() - t, items, flush=True)
t = time.monotonic()
seen = 0
w = watch.Watch()
for ev in w.stream(v1.list_namespaced_service, "bench", resource_version=sys.argv[3], timeout_seconds=120):
    seen += 1
    if seen >= n:
        w.stop()
print("watch", time.monotonic() - t, seen, flush=True)
