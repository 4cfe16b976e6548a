"""Bad or unreachable object-storage stores: a StoreError naming the fix, one CLI line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nbtrack as nt
from remote.conftest import BUCKET, s3_env

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NBTRACK_", "AWS_"))}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "nbtrack", *args], capture_output=True, text=True,
        env=full, cwd=cwd, timeout=120, check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("nbtrack: error: ") and "Traceback" not in done.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]
    return lines[0]


def test_missing_bucket_is_named_and_never_created(
    moto_endpoint: str, s3_store: str, tmp_path: Path
) -> None:
    import s3fs

    with pytest.raises(nt.StoreError, match="bucket 'no-such-bucket' does not exist"):
        nt.set_store("s3://no-such-bucket/team")
    done = _cli("--store", "s3://no-such-bucket/team", "runs", "list",
                env=s3_env(moto_endpoint), cwd=tmp_path)
    _one_line(done, "no-such-bucket", "does not exist", "aws s3 mb")
    assert "no-such-bucket" not in s3fs.S3FileSystem().ls("", refresh=True)


def test_missing_credentials_say_how_to_provide_them(moto_endpoint: str, tmp_path: Path) -> None:
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    done = _cli("--store", f"s3://{BUCKET}/x", "runs", "list", env=env, cwd=tmp_path)
    _one_line(done, "credentials", "AWS_ACCESS_KEY_ID")


def test_unreachable_endpoint_is_one_line(moto_endpoint: str, tmp_path: Path) -> None:
    env = {**s3_env(moto_endpoint), "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard"}
    done = _cli("--store", f"s3://{BUCKET}/x", "experiments", env=env, cwd=tmp_path)
    _one_line(done, "cannot open the store", "127.0.0.1:9")


def test_a_good_s3_store_works_from_the_cli(moto_endpoint: str, s3_store: str, tmp_path) -> None:
    nt.set_store(s3_store)
    with nt.start_run(name="from-python"):
        nt.log_metric("m", 1.0)
    done = _cli("--store", s3_store, "runs", "list", "--json", env=s3_env(moto_endpoint),
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "from-python" in done.stdout
