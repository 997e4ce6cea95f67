"""The served benchmarks' check of the built front-end assets (`bench.serving.ensure_assets`)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bench.serving import BUILD_COMMAND, BUILT_ASSETS, ensure_assets, missing_assets


def _fake_npm(tmp_path: Path, *, builds: bool) -> str:
    """An `npm` that records its arguments and, on `run build`, writes the built files."""
    script = tmp_path / "npm"
    writes = "\n".join(
        f'mkdir -p "$(dirname static/vendor/{name})" && : > static/vendor/{name}'
        for name in BUILT_ASSETS
    )
    script.write_text(
        "#!/bin/sh\n"
        'echo "$@" >> calls.txt\n'
        f'if [ "$1" = run ]; then\n{writes if builds else "exit 1"}\nfi\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_assets_already_built_run_nothing(tmp_path):
    for name in BUILT_ASSETS:
        (tmp_path / "static" / "vendor" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "static" / "vendor" / name).write_text("")
    ensure_assets(tmp_path, npm=_fake_npm(tmp_path, builds=True))
    assert not (tmp_path / "calls.txt").exists()


def test_missing_assets_are_built_with_npm_ci_then_the_build(tmp_path):
    assert missing_assets(tmp_path) == list(BUILT_ASSETS)
    ensure_assets(tmp_path, npm=_fake_npm(tmp_path, builds=True))
    assert missing_assets(tmp_path) == []
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls == ["ci --no-audit --no-fund --loglevel=error", "run --silent build"]


def test_without_npm_the_benchmark_stops_naming_the_command(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        ensure_assets(tmp_path, npm="")
    assert "npm is not installed" in str(stopped.value)
    assert BUILD_COMMAND in str(stopped.value)


def test_a_failed_build_stops_the_benchmark_naming_the_command(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        ensure_assets(tmp_path, npm=_fake_npm(tmp_path, builds=False))
    assert "`run --silent build` failed" in str(stopped.value)
    assert BUILD_COMMAND in str(stopped.value)
