"""The alert hook's contract: declared by the ai plugin, checked against implementations,
optional for plugins that must also work without flowbuilder-ai."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ai_test_runs import make_host
from pluggy import PluginValidationError

from flowbuilder import hookimpl
from flowbuilder.errors import PluginError


def test_the_ai_plugin_declares_the_alert_hook() -> None:
    host = make_host(False)
    caller = host.manager.hook.flowbuilder_anomaly_alerts
    assert caller.has_spec()
    assert list(caller.spec.argnames) == ["run_id", "annotation"]


def test_an_implementation_asking_for_an_unknown_argument_is_refused() -> None:
    class Wrong:
        @hookimpl
        def flowbuilder_anomaly_alerts(self, run_id: str, annotation: Any, severity: str) -> None:
            pass

    host = make_host(False)
    with pytest.raises((PluginError, PluginValidationError), match="severity"):
        host.register(Wrong(), name="wrong")


def test_an_optional_implementation_loads_without_the_ai_plugin() -> None:
    from flowbuilder.config import Settings
    from flowbuilder.plugins import build_plugin_host

    class Pager:
        @hookimpl(optionalhook=True)
        def flowbuilder_anomaly_alerts(self, run_id: str, annotation: Any) -> None:
            pass

    host = build_plugin_host(Settings(load_plugins=("core",)))
    host.register(Pager(), name="pager")
    assert not host.manager.hook.flowbuilder_anomaly_alerts.has_spec()


def test_an_alert_plugin_that_raises_is_reported_and_the_others_still_run(capsys: Any) -> None:
    from flowbuilder.annotations import Annotation
    from flowbuilder_ai.sink import send_alerts

    got: list[str] = []

    class Broken:
        @hookimpl
        def flowbuilder_anomaly_alerts(self, run_id: str, annotation: Any) -> None:
            raise RuntimeError("chat is down")

    class Good:
        @hookimpl
        def flowbuilder_anomaly_alerts(self, annotation: Any) -> None:
            got.append(annotation.task)

    host = make_host(False)
    host.register(Broken(), name="broken")
    host.register(Good(), name="good")
    send_alerts(host, "r1", Annotation("anomaly", {"why": "x"}, task="t"))
    assert got == ["t"]
    assert "plugin 'broken' failed in flowbuilder_anomaly_alerts: chat is down" in capsys.readouterr().err
