"""The release judgement as operators run it: the Prometheus rules and alerts are tested with
promtool on synthetic series (a healthy canary passes, bad ones fail, a quiet one decides
nothing), the Argo Rollouts analysis queries are tested the same way, and every metric the
rules, the analysis and the Grafana dashboard name is one a real gateway exposes."""
import json
import os
import re
import subprocess

import yaml

from conftest import ROOT, Gateway, http_get

PROMETHEUS = os.path.join(ROOT, "deploy", "prometheus")
KUBERNETES = os.path.join(ROOT, "deploy", "kubernetes")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "tickstream-deploys.json")


def load(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def promtool(*args, cwd=PROMETHEUS):
    result = subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_rules_check_and_pass_their_tests():
    assert "SUCCESS" in promtool("check", "rules", "tickstream-rules.yml")
    assert "SUCCESS" in promtool("test", "rules", "tickstream-rules.test.yml")


def test_the_prometheus_rule_manifest_carries_the_tested_groups():
    rules = load(os.path.join(PROMETHEUS, "tickstream-rules.yml"))[0]
    manifest = load(os.path.join(KUBERNETES, "prometheus-rule.yaml"))[0]
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == rules["groups"]


# What each analysis metric must conclude in each scenario of tickstream-rules.test.yml.
EXPECTED = {
    "a healthy canary raises nothing": {"failure-increase": "pass", "latency-increase": "pass", "lag-increase": "pass"},
    "a canary that fails its sessions is caught on failures, and only it":
        {"failure-increase": "fail", "latency-increase": "inconclusive", "lag-increase": "inconclusive"},
    "a canary whose event loop stalls is caught on lag, and a slow one on output wait":
        {"failure-increase": "inconclusive", "latency-increase": "fail", "lag-increase": "fail"},
    "a quiet canary decides nothing": {"failure-increase": "inconclusive", "lag-increase": "inconclusive"},
}


def test_the_canary_analysis_queries_judge_like_the_rules(tmp_path):
    """Each AnalysisTemplate query, its arguments filled in (canary "c", stable "s"), becomes
    a recording rule; promtool then checks, on the same synthetic series as the rules' tests,
    that it yields what the template's conditions read as pass, fail or inconclusive (no
    series: no sample)."""
    template = load(os.path.join(KUBERNETES, "analysis-template.yaml"))[0]
    assert template["kind"] == "AnalysisTemplate"
    records, thresholds = [], {}
    for metric in template["spec"]["metrics"]:
        name = metric["name"]
        query = metric["provider"]["prometheus"]["query"]
        query = query.replace("{{args.canary-hash}}", "c").replace("{{args.stable-hash}}", "s")
        assert "{{" not in query, query
        records.append({"record": "analysis:" + name.replace("-", "_"), "expr": query})
        success = re.fullmatch(r"len\(result\) > 0 && result\[0\] <= ([0-9.]+)", metric["successCondition"])
        failure = re.fullmatch(r"len\(result\) > 0 && result\[0\] > ([0-9.]+)", metric["failureCondition"])
        assert success and failure and success.group(1) == failure.group(1), metric
        thresholds[name] = float(success.group(1))
    (tmp_path / "analysis.yml").write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": records}]}))
    scenarios = yaml.safe_load(open(os.path.join(PROMETHEUS, "tickstream-rules.test.yml")))["tests"]
    tests = []
    for scenario in scenarios:
        expected = EXPECTED.get(scenario["name"])
        if not expected:
            continue
        checks = []
        for name, outcome in expected.items():
            series = "analysis:" + name.replace("-", "_")
            threshold = thresholds[name]
            if outcome == "inconclusive":
                checks.append({"expr": series, "eval_time": "10m", "exp_samples": []})
            else:
                # pass: the value is at most the threshold; fail: above it. Either way exactly
                # one sample, without labels (the queries aggregate).
                op = "<=" if outcome == "pass" else ">"
                checks.append({"expr": f"count({series} {op} {threshold})", "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": 1}]})
        tests.append({"name": scenario["name"], "interval": scenario["interval"], "input_series": scenario["input_series"],
                      "promql_expr_test": checks})
    assert len(tests) == len(EXPECTED)
    (tmp_path / "analysis.test.yml").write_text(yaml.safe_dump({"rule_files": ["analysis.yml"], "evaluation_interval": "1m", "tests": tests}))
    assert "SUCCESS" in promtool("test", "rules", "analysis.test.yml", cwd=tmp_path)


def test_the_rollout_uses_the_deployment_and_the_analysis():
    rollout = load(os.path.join(KUBERNETES, "rollout.yaml"))[0]
    deployment = next(d for d in load(os.path.join(KUBERNETES, "deployment.yaml")) if d["kind"] == "Deployment")
    template = load(os.path.join(KUBERNETES, "analysis-template.yaml"))[0]
    spec = rollout["spec"]
    assert rollout["apiVersion"] == "argoproj.io/v1alpha1" and rollout["kind"] == "Rollout"
    assert spec["workloadRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]["name"],
                                   "scaleDown": "progressively"}
    assert spec["selector"] == deployment["spec"]["selector"]
    analysis = spec["strategy"]["canary"]["analysis"]
    assert analysis["templates"] == [{"templateName": template["metadata"]["name"]}]
    declared = {a["name"] for a in template["spec"]["args"]}
    given = {a["name"] for a in analysis["args"]}
    defaulted = {a["name"] for a in template["spec"]["args"] if "value" in a}
    assert given <= declared and declared - given <= defaulted
    assert {"canary-hash", "stable-hash"} == given
    weights = [s["setWeight"] for s in spec["strategy"]["canary"]["steps"] if "setWeight" in s]
    assert weights == sorted(weights) and weights[-1] == 100
    assert spec["strategy"]["canary"]["maxUnavailable"] == 0


def test_every_metric_named_is_one_the_gateway_exposes(gateway_factory):
    gw = gateway_factory("--sim-rate", "100")
    exposed = set(re.findall(r"^# TYPE (\S+) (\S+)", http_get(gw.port, "/metrics")[1], re.M))
    names = {name for name, _ in exposed}
    histograms = {name for name, kind in exposed if kind == "histogram"}
    texts = [open(os.path.join(PROMETHEUS, "tickstream-rules.yml")).read(),
             open(os.path.join(KUBERNETES, "analysis-template.yaml")).read(),
             open(DASHBOARD).read()]
    dashboard = json.load(open(DASHBOARD))
    assert dashboard["panels"] and all(p["targets"] for p in dashboard["panels"])
    for text in texts:
        for name in set(re.findall(r"\b(tickstream_[a-z0-9_]+)", text)):
            if name.endswith("_bucket"):
                assert name[: -len("_bucket")] in histograms, name
            else:
                assert name in names, name
    # The recording rules the dashboard reads exist.
    recorded = {r.get("record") for g in load(os.path.join(PROMETHEUS, "tickstream-rules.yml"))[0]["groups"] for r in g["rules"]}
    for name in set(re.findall(r"\b(tickstream:[a-z0-9_:]+)", open(DASHBOARD).read())):
        assert name in recorded, name
