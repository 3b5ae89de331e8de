"""Schemathesis against docs/api-openapi.yaml with the real server up: generated requests,
valid and invalid, never get a 5xx, and the answers match the description.

Schemathesis's pytest plugin does not run under pytest 9 (it reads a node attribute that
is gone), so its Hypothesis strategies are driven directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from test_api_server import Api, serving

from nexus_desktop.config import Settings
from nexus_desktop.paths import AppPaths

DESCRIPTION = Path(__file__).resolve().parent.parent / "docs" / "api-openapi.yaml"
# Per generation mode, over the four operations: enough to reach every field and refusal
# while the whole run stays well under a minute on the tiny model.
EXAMPLES = 60


@pytest.fixture
def api(paths: AppPaths, tiny_settings: Settings) -> Iterator[Api]:
    with serving(paths, tiny_settings) as running:
        yield running


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_never_get_a_server_error_and_match_the_description(
        api: Api, mode: GenerationMode):
    schema = schemathesis.openapi.from_path(DESCRIPTION)
    schema.config.update(base_url=f"http://127.0.0.1:{api.port}",
                         headers={"Authorization": f"Bearer {api.token}"})
    seen: list[str] = []

    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def check(case: schemathesis.Case) -> None:
        seen.append(f"{case.method} {case.path}")
        case.call_and_validate()

    check()
    posts = {"POST /api/interact", "POST /api/control"}
    # A GET without parameters has nothing to make invalid: negative runs only POST.
    assert set(seen) == (posts if mode == GenerationMode.NEGATIVE
                         else {*posts, "GET /api/status", "GET /api/metrics"})
    print(f"{mode}: {len(seen)} requests")
