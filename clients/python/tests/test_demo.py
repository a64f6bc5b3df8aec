"""scripts/run-demo.sh prints one working example per endpoint: each one is run here
against a real server over the demo data (the root of this suite holds it)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import REPO, Server

ENDPOINTS = ["/healthz", "/readyz", "/scan", "/classify", "/overlap", "/topk", "/metrics",
             "/openapi.yaml"]
CLIENT_COMMANDS = ["health", "ready", "scan", "classify", "overlap", "topk", "metrics",
                   "openapi"]


def test_every_printed_example_works(server: Server, root: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TESSERA_TOKEN")}
    env.update(PORT=str(server.port), DEMO_DIR=str(root))
    printed = subprocess.run(["bash", str(REPO / "scripts" / "run-demo.sh"), "--examples"],
                             capture_output=True, text=True, env=env, check=True, timeout=30)
    commands = [line[2:] for line in printed.stdout.splitlines() if line.startswith("  ")]
    for path in ENDPOINTS:
        assert any(c.startswith("curl") and f"{server.url}{path}" in c for c in commands), path
    py = f"-m tessera_client {server.url} "
    for command in CLIENT_COMMANDS:
        assert any(py + command in c for c in commands), command

    (tmp_path / ".curlrc").write_text("--fail\n")  # a 4xx / 5xx answer fails curl
    env["CURL_HOME"] = str(tmp_path)
    for command in commands:
        if "nope.tif" in command:  # the example of an error answer
            done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                                  env={**env, "CURL_HOME": "/nonexistent"}, timeout=60)
            assert "HTTP/1.1 404" in done.stdout and "application/problem+json" in done.stdout
            continue
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                              env=env, timeout=60)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        assert done.stdout.strip() and done.stderr == "", f"{command}\n{done.stderr}"
        if "openapi" in command:
            assert done.stdout.startswith("openapi: 3.1.")
