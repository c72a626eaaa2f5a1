"""deploy/kubernetes: the manifests validate offline against Kubernetes' schemas, and the config Locust reads works."""

from __future__ import annotations

import json
import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim
from harness.options import DEFAULT_STOP_TIMEOUT_S

from common import MODEL, REPO

MANIFESTS = REPO / "deploy" / "kubernetes"


def documents() -> list[dict]:
    return [
        document
        for path in sorted(MANIFESTS.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


@pytest.mark.parametrize("document", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifests_validate_strictly(document: dict) -> None:
    kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)


def test_the_key_comes_from_a_secret_and_prometheus_finds_the_master() -> None:
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in documents()}
    master = by_name[("Deployment", "omniload-master")]["spec"]["template"]
    assert master["metadata"]["annotations"]["prometheus.io/port"] == "9646"
    for deployment in ("omniload-master", "omniload-worker"):
        container = by_name[("Deployment", deployment)]["spec"]["template"]["spec"]["containers"][0]
        assert container["envFrom"] == [{"secretRef": {"name": "omniload-api-key"}}]
    assert "OPENAI_API_KEY" not in json.dumps(by_name[("ConfigMap", "omniload-config")])
    ports = {port["port"] for port in by_name[("Service", "omniload-master")]["spec"]["ports"]}
    assert ports == {5557, 9646}  # no web UI port: the master is headless


def pod_specs() -> dict[str, dict]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in documents() if d["kind"] == "Deployment"}


@pytest.mark.parametrize("name", ["omniload-master", "omniload-worker"])
def test_pods_run_restricted_with_limits(name: str) -> None:
    """Kubernetes' "restricted" Pod Security Standard, plus a read-only root and CPU and memory limits."""
    pod = pod_specs()[name]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"] and "add" not in context["capabilities"]
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]) <= {"cpu", "memory"}
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])


def test_only_workers_reach_the_master_port() -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in documents() if d["kind"] == "NetworkPolicy"}
    master = policies["omniload-master"]
    assert master["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "master"
    rpc_rules = [rule for rule in master["ingress"] if any(port["port"] == 5557 for port in rule["ports"])]
    assert len(rpc_rules) == 1 and rpc_rules[0]["from"] == [
        {
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/name": "omniload", "app.kubernetes.io/component": "worker"}
            }
        }
    ]
    assert all("from" in rule or all(port["port"] == 9646 for port in rule["ports"]) for rule in master["ingress"])
    assert policies["omniload-worker"]["policyTypes"] == ["Ingress"] and "ingress" not in policies["omniload-worker"]
    assert "networkpolicy.yaml" in (MANIFESTS / "kustomization.yaml").read_text()


def stop_timeout_s() -> float:
    config = next(d for d in documents() if d["kind"] == "ConfigMap")["data"]["locust.conf"]
    return float(re.search(r"^stop-timeout = (\S+)$", config, re.M).group(1))


def test_grace_periods_outlast_the_stop_timeout() -> None:
    """SIGTERM lets open requests finish for --stop-timeout, then writes the report: the platform must wait longer."""
    assert stop_timeout_s() == DEFAULT_STOP_TIMEOUT_S
    for name, pod in pod_specs().items():
        assert pod["terminationGracePeriodSeconds"] > stop_timeout_s() + 10, name
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    for name in ("locust-master", "locust-worker"):
        assert float(compose[name]["stop_grace_period"].removesuffix("s")) > DEFAULT_STOP_TIMEOUT_S + 10, name


def test_the_image_is_not_root_and_compose_publishes_on_loopback() -> None:
    users = re.findall(r"^USER (\S+)", (REPO / "Dockerfile").read_text(), re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    published = [port for service in compose.values() for port in service.get("ports", [])]
    assert published and all(port.startswith("${PUBLISH_ADDRESS:-127.0.0.1}:") for port in published)
    assert not any(port.endswith(":8089") for port in published)  # the master is headless
    assert "OPENAI_API_KEY" in compose["locust-worker"]["environment"]  # each worker has its own key


def test_the_configmaps_locust_conf_runs(tmp_path: Path) -> None:
    """The same file, with the host, sweep and report directory overridden on the command line."""
    config = next(d for d in documents() if d["kind"] == "ConfigMap")["data"]["locust.conf"]
    (tmp_path / "locust.conf").write_text(config)
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL])
    try:
        result = run_locust(
            [
                "--config",
                str(tmp_path / "locust.conf"),
                "--host",
                sim.base_url,
                "--parallel",
                "1",
                "2",
                "--number",
                "2",
                "2",
                "--report-dir",
                str(tmp_path / "r"),
                "--metrics-port",
                "0",
                "--max-tokens",
                "4",
                "--image-num",
                "0",
                "--min-prompt-length",
                "32",
                "--max-prompt-length",
                "32",
                "--no-omnibench-use-audio",
                "--omnibench-limit",
                "2",
                "--sleep-interval",
                "0",
            ]
        )
    finally:
        sim.stop()
    assert result.returncode in (0, 1), result.stderr[-3000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["model"] == MODEL and [s["sent"] for s in summary["stages"]] == [2, 2]
    assert summary["omnibench"]["num"] == 2  # omnibench = true came from the file
