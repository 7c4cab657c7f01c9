"""The kit installs from its own wheels, outside this checkout, with no package index.

The docs' install lines say ``pip install --no-index --find-links dist pes-sdk …`` after
``make dist``; nothing of the kit is on a package index. This test builds the wheels of
the core, the CSV adapter, the conformance suite, the example plugin and the outbox channel
(the first of ``plugins/``) the way ``make dist`` does, installs them into a fresh virtual
environment with ``--no-index``, and runs the example plugin's conformance tests and the
outbox's tests there, so a missing package-data file, an entry point that only works in an
editable install, or an undeclared module shows here.

Third-party dependencies are not the kit's to build: the fresh environment sees this
environment's (attrs, lxml, pytest, …) through a folder of links to them alone, never to
the kit's editable installs, so every ``pes_sdk*`` module it imports is from a wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DISTS = [".", "adapters/csv", "conformance", "examples/jsonl-format", "plugins/outbox"]
# Names in site-packages that belong to the kit (editable installs and their finders).
_KIT = ("pes_sdk", "pes-sdk", "pes_example", "__editable__", "_pes_sdk", "pes_sdk_")


def _third_party_only(target: Path) -> Path:
    """A folder of links to this environment's installed packages, the kit's left out."""
    target.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for entry in site.iterdir():
        name = entry.name
        if name.startswith(_KIT) or name.endswith(".pth") or name == "__pycache__":
            continue
        if name.startswith("pes") and name.endswith(".dist-info"):
            continue
        (target / name).symlink_to(entry)
    return target


@pytest.mark.slow
def test_wheels_install_without_an_index_and_pass_the_example_and_outbox_tests(
    tmp_path: Path,
) -> None:
    wheels = tmp_path / "dist"
    for dist in DISTS:
        subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(wheels)],
            cwd=REPO / dist,
            check=True,
            capture_output=True,
            timeout=300,
        )
    built = sorted(p.name for p in wheels.glob("*.whl"))
    assert len(built) == len(DISTS), built

    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    fresh_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    links = _third_party_only(tmp_path / "third-party")
    (fresh_site / "third_party.pth").write_text(f"{links}\n", encoding="utf-8")

    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-deps", "--quiet",
         *(str(w) for w in sorted(wheels.glob("*.whl")))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr

    # the kit's modules come from the wheels, not from this checkout
    where = subprocess.run(
        [str(python), "-c", "import pes_sdk, pes_sdk_csv, pes_sdk_outbox, pes_example_jsonl as m; "
         "print(pes_sdk.__file__); print(pes_sdk_csv.__file__); print(m.__file__); "
         "print(pes_sdk_outbox.__file__)"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert line.startswith(str(fresh_site)), line

    env = {k: v for k, v in os.environ.items() if not k.startswith("PES_")}
    tests = [REPO / "examples" / "jsonl-format" / "tests", REPO / "plugins" / "outbox" / "tests"]
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), "-c", os.devnull, *(str(t) for t in tests)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
