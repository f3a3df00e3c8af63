"""The ``--progress`` option of ``run`` and ``resume``: a line per task in a log, when asked.

Off a terminal the commands print only what needs attention (failures, retries) and a
counters line now and then: a line per task state change cost about as much as running a
no-op task (issue 10) and buries the failures of a big run. ``--progress`` (``-v``)
brings the per-task lines back for whoever reads or parses them. A terminal shows the
live status line either way, and ``--json`` the full event stream.
"""

from __future__ import annotations

import click

progress_option = click.option(
    "--progress",
    "-v",
    "progress",
    is_flag=True,
    help="When stdout is not a terminal, print a line per task state change (default: failures and counters only).",
)

__all__ = ["progress_option"]
