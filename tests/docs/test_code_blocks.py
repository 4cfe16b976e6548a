"""Every code block of README.md and docs/*.md runs as written (issue 11).

- ``python`` blocks of one document run in order in one real IPython shell (a subprocess,
  so ``%load_ext nbtrack`` and ``%%track`` work as in a notebook), against a copy of the
  demo store, from an empty working folder: a block that raises fails the test.
- ``sh``/``bash``/``console`` blocks: every command must start with ``nbtrack``; each line
  runs in bash (pipes such as ``| jq`` included) with the venv's ``nbtrack`` first on PATH,
  against a copy of the demo store. ``RUN_ID`` stands for a run id of that store.
- A block that must not run is marked by an HTML comment on the line before its fence:
  ``<!-- no-test: why -->``. Other languages (json, sql, text) are not run here (docs/format.md's
  SQL and Python run in tests/reliability/test_foreign_reader.py).

The demo store is built once per session by ``notebooks/_build.py --html`` (what ``make
demo-headless`` runs). The test counts the blocks it ran, so it cannot pass by running none.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             ROOT / "jupyter-config" / "README.md"]
PYTHON = {"python", "py", "ipython"}
SHELL = {"sh", "bash", "console", "shell"}
NO_TEST = re.compile(r"^<!--\s*no-test:\s*(?P<why>.+?)\s*-->\s*$")
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\s*$")
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip_reason: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def extract(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their no-test marks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        i += 1
        previous = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
        mark = NO_TEST.match(previous.strip())
        blocks.append(Block(path, start + 1, match["lang"].lower(), "\n".join(body) + "\n",
                            mark["why"] if mark else None))
    return blocks


def all_blocks() -> list[Block]:
    return [b for doc in DOCUMENTS for b in extract(doc)]


def runnable(block: Block) -> bool:
    return block.lang in PYTHON | SHELL and block.skip_reason is None


def shell_commands(block: Block) -> list[str]:
    """The commands of a shell block (continuation lines joined, ``$ `` prompts dropped)."""
    commands, pending = [], ""
    for raw in block.code.splitlines():
        line = raw.rstrip()
        if block.lang == "console":
            if not line.startswith("$ ") and not pending:
                continue  # output lines
            line = line[2:] if line.startswith("$ ") else line
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append((pending + line).strip())
        pending = ""
    return commands


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store ``make demo-headless`` fills: every demo notebook executed once."""
    base = tmp_path_factory.mktemp("demo")
    env = {**os.environ, "NBTRACK_STORE": str(base / "store"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "JUPYTER_PREFER_ENV_PATH": "1"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "notebooks" / "_build.py"), "--html", str(base / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return base / "store"


@pytest.fixture
def store_copy(demo_store: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "demo-store"
    shutil.copytree(demo_store, copy)
    return copy


def _env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRACK_")}
    env.update(NBTRACK_STORE=str(store), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               COLUMNS="120", PYTHONWARNINGS="ignore::DeprecationWarning")
    return env


def _a_run_id(store: Path) -> str:
    """A finished run of the demo store that logged ``loss`` (README: ``metrics RUN_ID loss``)."""
    done = subprocess.run(
        [str(BIN / "nbtrack"), "--json", "runs", "list", "--filter",
         "metrics.loss IS NOT NULL AND attributes.status = 'FINISHED'", "--limit", "1"],
        env=_env(store), capture_output=True, text=True, check=True, timeout=120,
    )
    return json.loads(done.stdout)[0]["run_id"]


# --------------------------------------------------------------------------- the blocks

DRIVER = r"""
import json, sys
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
for i, code in enumerate(json.load(open(sys.argv[1]))):
    result = shell.run_cell(code, store_history=True)
    if not result.success:
        print(f"\nBLOCK-FAILED {i}", flush=True)
        sys.exit(1)
    print(f"\nBLOCK-OK {i}", flush=True)
"""

def _python_documents() -> list[Path]:
    return [d for d in DOCUMENTS if any(b.lang in PYTHON and runnable(b) for b in extract(d))]


def _shell_blocks() -> list[Block]:
    return [b for b in all_blocks() if b.lang in SHELL and runnable(b)]


@pytest.mark.parametrize("doc", _python_documents(), ids=lambda d: str(d.relative_to(ROOT)))
def test_python_blocks_run_in_order(doc: Path, store_copy: Path, tmp_path: Path) -> None:
    blocks = [b for b in extract(doc) if b.lang in PYTHON and runnable(b)]
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "blocks.json").write_text(json.dumps([b.code for b in blocks]))
    (tmp_path / "driver.py").write_text(DRIVER)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json")],
        cwd=work, env=_env(store_copy), capture_output=True, text=True, timeout=600,
        check=False,
    )
    ok = done.stdout.count("BLOCK-OK")
    failed = blocks[ok].where if ok < len(blocks) else "?"
    assert done.returncode == 0, f"block at {failed} failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
    assert ok == len(blocks) > 0


@pytest.mark.parametrize("block", _shell_blocks(), ids=lambda b: b.where)
def test_shell_blocks_run_against_the_demo_store(block: Block, store_copy: Path,
                                                 tmp_path: Path) -> None:
    commands = shell_commands(block)
    assert commands, f"{block.where}: an empty shell block"
    for command in commands:
        assert command.startswith("nbtrack "), (
            f"{block.where}: {command!r} is not an nbtrack command; mark the block "
            "<!-- no-test: why --> if it must not run"
        )
    env = _env(store_copy)
    run_id = _a_run_id(store_copy) if "RUN_ID" in block.code else ""
    # `nbtrack import ./mlruns` (README) reads an MLflow file store in the working folder.
    subprocess.run([str(BIN / "nbtrack"), "export", str(tmp_path / "mlruns")], env=env,
                   check=True, capture_output=True, timeout=300)
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", "set -eo pipefail; " + command.replace("RUN_ID", run_id)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        assert done.returncode == 0, f"{block.where}: {command}\n{done.stdout}{done.stderr}"
        assert "nbtrack: error" not in done.stderr, f"{block.where}: {command}\n{done.stderr}"


def test_the_blocks_that_run_are_counted_and_marks_say_why() -> None:
    """The parametrized tests above run these blocks: a broken extractor (no block found,
    so no test generated) fails here instead of passing silently."""
    blocks = all_blocks()
    counts: dict[str, int] = {}
    for b in blocks:
        kind = "python" if b.lang in PYTHON else "shell" if b.lang in SHELL else "other"
        state = "run" if runnable(b) else "marked" if b.skip_reason else "not code"
        counts[f"{kind} {state}"] = counts.get(f"{kind} {state}", 0) + 1
    print(counts)
    # README (5), docs/magics.md and docs/views.md hold 7 python blocks that run; README's
    # two CLI blocks hold 11 commands.
    assert counts.get("python run", 0) >= 7
    assert sum(len(shell_commands(b)) for b in _shell_blocks()) >= 11
    for b in blocks:
        if b.skip_reason is not None:
            assert len(b.skip_reason) > 10, f"{b.where}: say why the block does not run"
        if b.lang in PYTHON | SHELL and not runnable(b):
            assert b.skip_reason, b.where


# --------------------------------------------------------------------------- facts the docs state


def test_format_md_names_the_real_partition_folder() -> None:
    from nbtrack.storage.schema import experiment_id

    text = (ROOT / "docs" / "format.md").read_text()
    named = re.findall(r"experiment_id=(Default-[0-9a-f]{8})", text)
    assert named and set(named) == {experiment_id("Default")}


def test_every_doc_names_the_same_ipython_profile_file_as_the_code() -> None:
    postbuild = (ROOT / "binder" / "postBuild").read_text()
    (used,) = set(re.findall(r"ipython_\w*config\.py", postbuild))
    for doc in (ROOT / "docs" / "magics.md", ROOT / "jupyter-config" / "README.md"):
        blocks = [b for b in extract(doc) if "InteractiveShellApp.extensions" in b.code]
        assert blocks, doc
        for b in blocks:
            assert set(re.findall(r"ipython_\w*config\.py", b.code)) == {used}, b.where


def test_the_profile_recipe_gives_every_kernel_the_magics(tmp_path: Path) -> None:
    """Run the docs' profile commands in a throw-away IPYTHONDIR, then start a kernel."""
    from jupyter_client.manager import start_new_kernel

    (block,) = [b for b in extract(ROOT / "jupyter-config" / "README.md")
                if "InteractiveShellApp.extensions" in b.code]
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython"), "NBTRACK_STORE": str(tmp_path / "s"),
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(["bash", "-ec", block.code], env=env, check=True, capture_output=True,
                   timeout=120)
    km, kc = start_new_kernel(kernel_name="python3", env=env, startup_timeout=120)
    outputs: list[dict[str, Any]] = []
    try:
        reply = kc.execute_interactive(
            "print(get_ipython().find_cell_magic('track') is not None)", timeout=120,
            output_hook=lambda msg: outputs.append(msg),
        )
        assert reply["content"]["status"] == "ok"
        text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        assert text.strip() == "True"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

