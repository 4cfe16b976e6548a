"""The README's wheel recipe works: ``pip wheel --no-deps`` builds an installable wheel that
carries the lab extension, the Jupyter config and the ``nbtrack`` command (issue 11)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_pip_wheel_builds_what_the_readme_says(tmp_path: Path) -> None:
    if not (ROOT / "nbtrack" / "labextension" / "package.json").exists():
        pytest.skip("the lab extension is not built (make labextension); pip would need Node")
    readme = (ROOT / "README.md").read_text()
    assert "pip wheel --no-deps -w dist /path/to/nbtrack" in readme
    (named,) = set(re.findall(r"dist/(nbtrack-[\w.]+-py3-none-any\.whl)", readme))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == named
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        entry_points = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "nbtrack/__init__.py" in names
    assert "nbtrack/labextension/package.json" in names
    assert any(n.endswith("share/jupyter/labextensions/nbtrack/package.json") for n in names)
    assert any(n.endswith("etc/jupyter/jupyter_server_config.d/nbtrack.json") for n in names)
    assert "nbtrack = nbtrack.cli:main" in entry_points
    assert not any(n.startswith(("tests/", "notebooks/")) for n in names)
    # Installed on its own (no deps: the test venv has them), it imports and runs.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                    "--disable-pip-version-check", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    out = subprocess.run(
        [sys.executable, "-c", "import nbtrack, sys; print(nbtrack.__file__)"],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    assert out.strip() == str(target / "nbtrack" / "__init__.py")
