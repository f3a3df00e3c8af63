"""Sync policies: when an acknowledged append reaches the disk, not just the OS.

* ``always`` — every write is fsynced before it is acknowledged. A process crash or a power
  loss loses nothing acknowledged.
* ``batch`` (default) — writes go to the write-ahead log at once (so a process crash loses
  nothing acknowledged) and a background thread fsyncs the log at most ``sync_interval_ms``
  (default 50 ms) after the first unsynced write: a power loss or kernel crash loses at most
  the writes acknowledged in that last interval.
* ``never`` — writes reach the OS at once and are never fsynced by us: a process crash loses
  nothing acknowledged; a power loss can lose whatever the OS had not written back yet
  (typically up to ~30 s of writes).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping

from flowbuilder.errors import ConfigurationError


class SyncPolicy(str, Enum):
    ALWAYS = "always"
    BATCH = "batch"
    NEVER = "never"


DEFAULT_SYNC_INTERVAL_MS = 50


@dataclass(frozen=True, slots=True)
class Durability:
    policy: SyncPolicy = SyncPolicy.BATCH
    interval_ms: int = DEFAULT_SYNC_INTERVAL_MS


def durability_from(query: Mapping[str, str], section: Mapping[str, object], where: str) -> Durability:
    """Read ``sync`` and ``sync_interval_ms`` from the URL query, else from the settings table."""
    raw_policy = query.get("sync", section.get("sync", SyncPolicy.BATCH.value))
    try:
        policy = SyncPolicy(str(raw_policy).lower())
    except ValueError:
        raise ConfigurationError(f"{where}: sync={raw_policy!r} is not one of always, batch, never") from None
    raw_interval = query.get("sync_interval_ms", section.get("sync_interval_ms", DEFAULT_SYNC_INTERVAL_MS))
    try:
        interval = int(str(raw_interval))
    except ValueError:
        interval = -1
    if interval < 1:
        raise ConfigurationError(
            f"{where}: sync_interval_ms={raw_interval!r} must be a whole number of milliseconds >= 1"
        )
    return Durability(policy, interval)
