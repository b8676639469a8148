"""Real-client interop: the official Python `kubernetes` client lists and watches Services
against KubeSim. Usage: python_client.py KUBECONFIG. Prints LIST/EVENT/DONE lines."""
import sys
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
v1 = client.CoreV1Api()
svcs = v1.list_namespaced_service("default")
print("LIST", ",".join(sorted(s.metadata.name for s in svcs.items)), flush=True)
rv = svcs.metadata.resource_version


def mutate():
    time.sleep(0.5)
    body = client.V1Service(
        metadata=client.V1ObjectMeta(name="py-svc", labels={"app": "py"}),
        spec=client.V1ServiceSpec(type="LoadBalancer", ports=[client.V1ServicePort(port=80, target_port=8080)]),
    )
    created = v1.create_namespaced_service("default", body)
    print("CREATED", created.spec.cluster_ip, created.spec.ip_families, created.spec.ports[0].node_port, flush=True)
    v1.patch_namespaced_service_status(
        "py-svc", "default", {"status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}})
    v1.delete_namespaced_service("py-svc", "default")


threading.Thread(target=mutate).start()
w = watch.Watch()
seen = []
for ev in w.stream(v1.list_namespaced_service, "default", resource_version=rv, timeout_seconds=10):
    o = ev["object"]
    ingress = o.status.load_balancer.ingress if o.status and o.status.load_balancer else None
    ip = ingress[0].ip + "/" + str(ingress[0].ip_mode) if ingress else "-"
    print("EVENT", ev["type"], o.metadata.name, ip, flush=True)
    seen.append(ev["type"])
    if ev["type"] == "DELETED":
        w.stop()
print("DONE", ",".join(seen), flush=True)
