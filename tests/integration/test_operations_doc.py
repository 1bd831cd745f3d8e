"""docs/operations.md lists exactly what the code has: metrics, readiness advice, sandbox routes."""

from __future__ import annotations

import re
from pathlib import Path

import falcon.testing
from prometheus_client.metrics import MetricWrapperBase

import adapters.metrics.definitions as definitions
from adapters.wechat_api.advice import ADVICE
from entrypoints.sandbox.command import EPILOG
from entrypoints.sandbox.routes import create_sandbox_app

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text("utf-8")


def section(title: str) -> str:
    return DOC.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_metrics_table_lists_every_metric_with_its_type_and_labels():
    rows = re.findall(r"^\| `(kefu_\w+)` \| (\w+) \| ([^|]+) \|", section("Metrics"), re.M)
    documented = {name: (kind, label.strip()) for name, kind, label in rows}
    defined = {}
    for metric in vars(definitions).values():
        if isinstance(metric, MetricWrapperBase):
            suffix = "_total" if metric._type == "counter" else ""
            labels = ", ".join(f"`{label}`" for label in metric._labelnames) or "—"
            defined[metric._name + suffix] = (metric._type, labels)
    assert documented == defined


def test_the_advice_table_gives_exactly_what_readiness_says_to_do():
    readiness = section("Readiness: `/readyz` and `kefu status`")
    rows = dict(re.findall(r"^\| `([^`]+)` \| ([^|]+) \|$", readiness, re.M))
    assert {code: advice.strip() for code, advice in rows.items()} == dict(ADVICE)


def test_the_sandbox_section_and_help_list_every_control_route_and_each_one_answers():
    listed = set(re.findall(r"^\| `(GET|POST|DELETE) (/sandbox/[\w/]+)` \|", DOC, re.M))
    assert len(listed) == 6
    client = falcon.testing.TestClient(create_sandbox_app("wx0", "secret"))
    fault = {"path": "/cgi-bin/message/custom/send", "errcode": -1}
    for method, path in sorted(listed):
        assert re.search(rf"^  {method}\s+{path} ", EPILOG, re.M), (method, path)
        answer = client.simulate_request(method, path, json=fault if method == "POST" else None)
        assert answer.status_code in (200, 201, 204), (method, path)


def test_the_fault_example_posts_json_the_sandbox_takes():
    example = section("The WeChat sandbox: `kefu sandbox`").split("```sh", 2)[2].split("```")[0]
    assert "-H 'Content-Type: application/json' localhost:9100/sandbox/faults" in example
    body = re.search(r"-d '(\{.*\})'", example)
    assert body is not None
    client = falcon.testing.TestClient(create_sandbox_app("wx0", "secret"))
    answer = client.simulate_post("/sandbox/faults", body=body[1], content_type="application/json")
    assert answer.status_code == 201
    assert answer.json["errcode"] == 40164
