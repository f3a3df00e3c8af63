"""DaskExecutor's edges: how a dask:// URL is read, what a missing extra or a bad setting says, and
that choosing an executor imports no Dask until a dask:// URL is used."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowbuilder.config import Settings
from flowbuilder.errors import ConfigurationError
from flowbuilder.plugins import build_plugin_host
from flowbuilder_distributed.dask_executor import DaskExecutor, scheduler_address


def test_a_dask_url_names_the_schedulers_tcp_address() -> None:
    assert scheduler_address("dask://127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert scheduler_address("dask://scheduler.example:8786/") == "tcp://scheduler.example:8786"
    assert scheduler_address("dask://[::1]:8786") == "tcp://[::1]:8786"


@pytest.mark.parametrize(
    "url",
    [
        "dask://127.0.0.1",
        "dask://:8786",
        "dask://host:port",
        "dask://host:8786/db",
        "dask://h:1?x=1",
        "tcp://h:1",
        "dask://[::1",
    ],
)
def test_a_malformed_dask_url_is_a_one_line_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError, match="dask://HOST:PORT") as caught:
        scheduler_address(url)
    assert "\n" not in str(caught.value)


def test_the_plugin_serves_dask_urls_with_process_attempts_only() -> None:
    classes = build_plugin_host(Settings()).attempt_executor_classes()
    assert classes["dask"] is DaskExecutor
    assert DaskExecutor.url_schemes == ("dask",)
    assert DaskExecutor.modes == frozenset({"process"})


def test_a_missing_dask_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    with pytest.raises(ConfigurationError) as caught:
        DaskExecutor.from_url("dask://127.0.0.1:8786", Settings())
    message = str(caught.value)
    assert "pip install 'flowbuilder-distributed[dask]'" in message and "\n" not in message


@pytest.mark.parametrize("value", ["soon", 0, -1, 10_000])
def test_a_bad_connect_timeout_is_refused_before_connecting(value: object) -> None:
    settings = Settings(sections={"dask": {"connect_timeout": value}})
    with pytest.raises(ConfigurationError, match=r"\[dask\] connect_timeout"):
        DaskExecutor.from_url("dask://127.0.0.1:8786", settings)


def test_choosing_an_executor_imports_no_dask_until_a_dask_url_is_used(tmp_path: Path) -> None:
    code = ("import sys; from flowbuilder.config import Settings; from flowbuilder.plugins import build_plugin_host;"
            " build_plugin_host(Settings()).attempt_executor_classes();"
            " print(sorted(m for m in ('distributed', 'dask', 'tornado') if m in sys.modules))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                          cwd=tmp_path)  # fmt: skip
    assert done.stdout.strip() == "[]"


def test_a_bad_log_level_is_refused_before_connecting() -> None:
    settings = Settings(sections={"dask": {"log_level": "LOUD"}})
    with pytest.raises(ConfigurationError, match=r"\[dask\] log_level"):
        DaskExecutor.from_url("dask://127.0.0.1:8786", settings)
