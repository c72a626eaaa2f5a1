"""deploy/kubernetes: the manifests validate offline against Kubernetes' schemas, and the config Locust reads works."""

from __future__ import annotations

import json
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from conftest import MODEL, REPO

from harness.devtools.locustproc import run_locust
from harness.devtools.simprocess import start_sim

MANIFESTS = REPO / "deploy" / "kubernetes"


def documents() -> list[dict]:
    return [document for path in sorted(MANIFESTS.glob("*.yaml")) if path.name != "kustomization.yaml"
            for document in yaml.safe_load_all(path.read_text()) if document]  # fmt: skip


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
    assert {5557, 9646} <= ports


def test_the_configmaps_locust_conf_runs(tmp_path: Path) -> None:
    """The same file, with the host, sweep and report directory overridden on the command line."""
    config = next(d for d in documents() if d["kind"] == "ConfigMap")["data"]["locust.conf"]
    (tmp_path / "locust.conf").write_text(config)
    sim = start_sim(["--fixed", "5", "1", "--model", MODEL])
    try:
        result = run_locust(["--config", str(tmp_path / "locust.conf"), "--host", sim.base_url, "--parallel", "1",
                             "2", "--number", "2", "2", "--report-dir", str(tmp_path / "r"), "--metrics-port", "0",
                             "--max-tokens", "4", "--image-num", "0", "--min-prompt-length", "32",
                             "--max-prompt-length", "32", "--no-omnibench-use-audio", "--omnibench-limit", "2",
                             "--sleep-interval", "0"])  # fmt: skip
    finally:
        sim.stop()
    assert result.returncode in (0, 1), result.stderr[-3000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["model"] == MODEL and [s["sent"] for s in summary["stages"]] == [2, 2]
    assert summary["omnibench"]["num"] == 2  # omnibench = true came from the file
