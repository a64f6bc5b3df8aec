"""The README's Python example runs against the real server and prints what the README says.

The example is the first ```python block of the README's "## Python client" section; the
output it must print is the first ```text block after it. The data root holds the demo data
set (tessera make-demo), as the README assumes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import PACKAGE, REPO, Server


def readme_blocks() -> tuple[str, str]:
    """(the example's code, its expected output) from README.md."""
    text = (REPO / "README.md").read_text()
    start = text.index("\n## Python client\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end >= 0 else len(text)]
    code = re.search(r"^```python\n(.*?)^```$", section, re.S | re.M)
    assert code is not None, "no ```python block in the Python client section"
    output = re.search(r"^```text\n(.*?)^```$", section[code.end() :], re.S | re.M)
    assert output is not None, "no ```text block after the example"
    return code[1], output[1]


def test_readme_example(server: Server, root: Path, tmp_path: Path) -> None:
    code, expected = readme_blocks()
    script = tmp_path / "readme_example.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "TESSERA_TOKEN"}
    env.update(PYTHONPATH=str(PACKAGE), TESSERA_URL=server.url, TESSERA_ROOT=str(root))
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", str(script)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected
