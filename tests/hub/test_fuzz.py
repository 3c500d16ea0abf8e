"""schemathesis against a running hub, from its own OpenAPI document: whatever it sends,
no 5xx, and every answer is one the document describes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.hub.regions import Hub, Region

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.slow
def test_generated_requests_find_no_server_error(hub: Hub, region: Region, tmp_path: Path) -> None:
    site = region.site()
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{hub.url}/api/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {site.token}",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance",
            "--max-examples",
            "60",
            "--seed",
            "14",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # its cache directory goes there, not into the work tree
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
