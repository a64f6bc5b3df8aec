"""The package as a user installs it: pip into a fresh venv, offline, then used from there.

The command is the README's (``python3 -m venv --system-site-packages`` and ``pip install
--no-build-isolation --no-deps``: numpy and requests come from Debian). The source is copied
first so the build leaves nothing in the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import tessera_client as tc
from conftest import PACKAGE, Server


def run(*args: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TESSERA_TOKEN")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")  # never the network
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_pip_install_into_a_venv(tmp_path: Path, server: Server) -> None:
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src,
                    ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--system-site-packages", venv, cwd=tmp_path)
    run(venv / "bin" / "pip", "install", "--no-build-isolation", "--no-deps", src, cwd=tmp_path)
    shutil.rmtree(src)  # the installed copy must stand on its own

    probe = (
        "import importlib.metadata as md, json, pathlib, sys, tessera_client as t\n"
        "here = pathlib.Path(t.__file__).parent\n"
        "print(json.dumps({'file': t.__file__, 'version': t.__version__,\n"
        "  'dist': md.version('tessera-client'), 'requires': md.requires('tessera-client'),\n"
        "  'typed': (here / 'py.typed').is_file(),\n"
        "  'lazy': [m for m in ('pandas', 'tifffile') if m in sys.modules]}))\n"
    )
    info = json.loads(run(venv / "bin" / "python", "-c", probe, cwd=tmp_path))
    assert Path(info["file"]).is_relative_to(venv), info["file"]
    assert info["version"] == info["dist"] == tc.__version__
    assert sorted(re.split(r"[ (<>=;]", r)[0] for r in info["requires"] if "extra" not in r) == [
        "numpy", "requests"]
    assert info["typed"] is True
    assert info["lazy"] == []  # pandas and tifffile are imported only when needed

    assert run(venv / "bin" / "tessera-client", "--version", cwd=tmp_path).strip() == (
        f"tessera-client {tc.__version__}")
    out = run(venv / "bin" / "python", "-m", "tessera_client", server.url, "classify",
              "t/labels/truth.tif", cwd=tmp_path)
    assert json.loads(out)["dtype"] == "uint16"
