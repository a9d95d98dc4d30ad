"""voxroute as a wheel: the bundled files (prompts, the shipped router, the default examples, the
sample recordings) travel inside it and are found from an installed copy, away from any checkout; its
metadata asks for the runtime dependencies alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from assistant.runtime.pack import load_pack

REPO = Path(__file__).resolve().parent.parent
FIND_FILES = """
import assistant, json
from assistant.routing.prompting import load_template
from assistant.routing.router import SHIPPED_ADAPTER, RouterSpec
from assistant.runtime.pack import load_pack
from assistant.voice.samples import load_samples
print(json.dumps({"package": assistant.__file__, "template": load_template("chatml").suffix,
                  "router": RouterSpec.for_adapter(SHIPPED_ADAPTER).template,
                  "examples": len(load_pack().example_files()), "samples": len(load_samples())}))
"""


@pytest.mark.slow
def test_the_wheel_carries_the_bundled_files_and_an_install_finds_them(tmp_path: Path) -> None:
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_symlink():
            os.symlink(os.readlink(REPO / name), target)
        elif (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-build-isolation",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("voxroute-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "assistant/data/prompts/chatml.txt",
        "assistant/data/prompts/system.txt",
        "assistant/data/router/adapter_model.safetensors",
        "assistant/data/router/manifest.json",
        "assistant/data/examples/weather_examples.txt",
        "assistant/data/samples/samples.jsonl",
    ):
        assert expected in names
    assert any(name.startswith("assistant/data/samples/") and name.endswith(".wav") for name in names)
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    headers = zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
    assert "Requires-Python: >=3.11" in headers
    # `pip install voxroute` asks for the runtime alone; training, benchmarks and tests come with their extras.
    requires = [line.removeprefix("Requires-Dist: ") for line in headers if line.startswith("Requires-Dist: ")]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert [line for line in requires if "; extra ==" not in line] == project["dependencies"]
    assert 'voxroute[train]; extra == "bench"' in requires

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    found = subprocess.run(
        [sys.executable, "-c", FIND_FILES],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        check=True,
    )
    import json

    report = json.loads(found.stdout)
    assert report["package"].startswith(str(site))
    assert report == {
        "package": report["package"],
        "template": "<|im_end|>",
        "router": "chatml",
        "examples": len(load_pack().example_files()),
        "samples": 24,
    }
