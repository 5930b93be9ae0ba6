"""The Kubernetes manifests say what they mean: the gateway container's own arguments and
environment start a real gateway that becomes ready on the bus, and the timings that keep a
rolling deploy from cutting clients hold together."""
import os
import subprocess

import yaml

from conftest import BINARY, ROOT, free_port, http_get, wait_for

MANIFESTS = os.path.join(ROOT, "deploy", "kubernetes")


def load(name):
    with open(os.path.join(MANIFESTS, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def seconds(text):
    return float(str(text).rstrip("s"))


def pod_spec(documents, kind, name):
    return next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)["spec"]["template"]["spec"]


def resolved_environment(container, overrides):
    """The container's env as the kubelet would give it: fieldRefs, secrets and $(VAR)."""
    env = {}
    for entry in container.get("env", []):
        name = entry["name"]
        if name in overrides:
            env[name] = overrides[name]
        elif "value" in entry:
            value = str(entry["value"])
            for key, known in env.items():
                value = value.replace(f"$({key})", known)
            env[name] = value
        elif "fieldRef" in entry.get("valueFrom", {}):
            env[name] = "127.0.0.1"  # the pod IP
        else:
            env[name] = f"secret-{name.lower()}"
    return env


def with_ports(args, public, admin):
    out = list(args)
    for flag, port in (("--port", public), ("--admin-port", admin)):
        if flag in out:
            out[out.index(flag) + 1] = str(port)
    return out


def test_the_gateway_pod_settings_start_a_gateway_that_is_ready_on_the_bus(nats_server):
    spec = pod_spec(load("deployment.yaml"), "Deployment", "tickstream")
    container = spec["containers"][0]
    public, admin = free_port(), free_port()
    env = resolved_environment(container, {"GATEWAY_BUS": nats_server.url})
    # The Service links Kubernetes would inject for a Service named "gateway": off in the spec.
    assert spec["enableServiceLinks"] is False
    process = subprocess.Popen([BINARY, *with_ports(container["args"], public, admin)], env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = container["readinessProbe"]["httpGet"]
        assert probe["port"] == "admin"
        assert wait_for(lambda: http_get(admin, probe["path"])[0] == 200, 10), http_get(admin, probe["path"])
        status, body = http_get(admin, probe["path"])
        assert '"bus":{"ok":true' in body
        assert http_get(admin, container["livenessProbe"]["httpGet"]["path"])[0] == 200
        # Health and metrics live on the admin port only, as the annotations say.
        assert http_get(public, "/health/ready")[0] == 404
        annotations = load("deployment.yaml")[0]["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == next(p["containerPort"] for p in container["ports"] if p["name"] == "admin")
        assert "tickstream_bus_connected 1" in http_get(admin, annotations["prometheus.io/path"])[1].splitlines()
        # No simulator in production: the feed is the bus.
        assert 'tickstream_feed_updates_total{source="simulator"} 0' in http_get(admin, "/metrics")[1]
    finally:
        process.terminate()
        process.wait(timeout=40)


def test_the_drain_fits_in_the_grace_period_and_probes_do_not_flap():
    spec = pod_spec(load("deployment.yaml"), "Deployment", "tickstream")
    container = spec["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    pre_stop = container["lifecycle"]["preStop"]
    # preStop waits for endpoint propagation only: no curl whose failure would sleep the grace
    # period away (SIGTERM starts the drain).
    assert "exec" not in pre_stop and pre_stop["sleep"]["seconds"] <= 10
    drain_timeout = float(env["GATEWAY_DRAIN_TIMEOUT"])
    assert float(env["GATEWAY_DRAIN_GRACE"]) + float(env["GATEWAY_DRAIN_DURATION"]) <= drain_timeout
    assert spec["terminationGracePeriodSeconds"] >= pre_stop["sleep"]["seconds"] + drain_timeout + 5
    assert container["readinessProbe"]["failureThreshold"] >= 3


def test_nats_keeps_jetstream_on_a_volume_and_the_demo_simulator_is_one_writer(gateway_factory, nats_server):
    documents = load("nats.yaml")
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]["nats.conf"]
    assert "jetstream" in config and 'store_dir: "/data"' in config
    statefulset = next(d for d in documents if d["kind"] == "StatefulSet")
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    simulator = load("demo-simulator.yaml")[0]
    assert simulator["spec"]["replicas"] == 1
    container = simulator["spec"]["template"]["spec"]["containers"][0]
    args = with_ports(container["args"], free_port(), 0)
    args[args.index("--bus") + 1] = nats_server.url
    gw = gateway_factory(*args[2:])  # without --port: the fixture picks one
    assert wait_for(lambda: http_get(gw.port, "/health/ready")[0] == 200, 10)
    assert wait_for(lambda: "tickstream_bus_published_total 0" not in http_get(gw.port, "/metrics")[1], 5)


def test_every_manifest_is_valid_against_the_kubernetes_schema():
    """kubectl drops or refuses a field in the wrong place: nats.yaml once had its resources
    under the config volume, so the NATS server ran with no requests or limits."""
    import glob
    import sys
    validate = os.path.join(os.path.dirname(sys.executable), "kubernetes-validate")
    manifests = sorted(glob.glob(os.path.join(MANIFESTS, "*.yaml")))
    assert manifests
    result = subprocess.run([validate, "--strict", "-k", "1.37.0", *manifests], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "did not validate" not in result.stdout + result.stderr
