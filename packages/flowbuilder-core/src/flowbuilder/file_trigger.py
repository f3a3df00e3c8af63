"""The ``file`` trigger source: each file that arrives in a folder starts one run.

``on: {source: {type: file, config: {directory: inbox, pattern: "*.csv"}}}`` with a param
``path`` (text): the active ``flowbuilder scheduler`` looks at the folder every ``poll``
seconds, and a file whose size and modification time did not change between two looks
(so one still being written is not taken half-done) starts a run with ``path`` = its
absolute path. It is core's reference :class:`~flowbuilder.interfaces.TriggerSource`.

* The event id is ``<file name>@<mtime in ns>``: one run per file, however many schedulers
  look, and a file rewritten later (a new modification time) is a new arrival.
* Files present when the scheduler starts count too (they may have arrived while no
  scheduler ran); those that already had their run are refused by their claimed key.
* Hidden files (a leading ``.``, as editors and rsync write their temporary files) are left
  out unless ``pattern`` itself starts with ``.``; folders and other non-files always.
* A ``directory`` that does not exist (or is not readable) is an error of the source: the
  scheduler logs it and looks again later, so creating the folder afterwards works.
  A relative ``directory`` is read from the scheduler's working directory.

Polling rather than inotify: it works the same on every OS and on network filesystems,
needs no dependency, and a look at a folder costs microseconds per file.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from flowbuilder.interfaces.trigger_source import Emit, TriggerEvent, TriggerSource

MAX_POLL_SECONDS = 3600.0


class FileArrivalConfig(BaseModel):
    """``config:`` of ``type: file``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    directory: str = Field(min_length=1, description="The folder to watch (relative: to the scheduler's directory).")
    pattern: str = Field("*", min_length=1, description="Which file names count, as a glob: '*.csv'.")
    poll: float = Field(1.0, ge=0.05, le=MAX_POLL_SECONDS, description="Seconds between two looks at the folder.")

    @field_validator("pattern")
    @classmethod
    def _a_name_not_a_path(cls, pattern: str) -> str:
        if "/" in pattern or "\0" in pattern:
            raise ValueError(f"pattern {pattern!r} matches file names, not paths; put the folder in `directory`")
        return pattern

    @field_validator("directory")
    @classmethod
    def _no_nul(cls, directory: str) -> str:
        if "\0" in directory:
            raise ValueError("a directory name cannot hold a NUL character")
        return directory


Signature = tuple[int, int]
"""(size, modification time in ns): unchanged between two looks means the file is complete."""


def look(directory: str, pattern: str) -> dict[str, Signature]:
    """The regular files of ``directory`` whose name matches ``pattern``, with their signatures.

    Raises ``FileNotFoundError``/``NotADirectoryError``/``PermissionError`` with a message
    naming the folder.
    """
    hidden = pattern.startswith(".")
    found: dict[str, Signature] = {}
    try:
        entries = os.scandir(directory)
    except FileNotFoundError:
        raise FileNotFoundError(f"no directory {directory!r}; create it, or fix `directory`") from None
    except NotADirectoryError:
        raise NotADirectoryError(f"{directory!r} is not a directory") from None
    except PermissionError:
        raise PermissionError(f"directory {directory!r} cannot be read (permission denied)") from None
    with entries:
        for entry in entries:
            if (entry.name.startswith(".") and not hidden) or not fnmatch.fnmatchcase(entry.name, pattern):
                continue
            try:
                if not entry.is_file(follow_symlinks=True):
                    continue
                stat = entry.stat(follow_symlinks=True)
            except OSError:  # vanished between listing and stat
                continue
            found[entry.name] = (stat.st_size, stat.st_mtime_ns)
    return found


class FileArrival(TriggerSource):
    """``type: file``: a run per file arriving in ``directory`` (see the module docstring)."""

    name = "file"
    config_model = FileArrivalConfig

    async def watch(self, config: Any, emit: Emit) -> None:
        assert isinstance(config, FileArrivalConfig)
        previous: dict[str, Signature] = {}
        reported: set[str] = set()
        root = os.path.abspath(config.directory)
        while True:
            current = await asyncio.to_thread(look, config.directory, config.pattern)
            for name, signature in sorted(current.items()):
                event_id = f"{name}@{signature[1]}"
                if previous.get(name) != signature or event_id in reported:
                    continue  # new or still changing: wait for one more look
                reported.add(event_id)
                await emit(TriggerEvent(event_id, {"path": os.path.join(root, name)}))
            reported.intersection_update(f"{name}@{signature[1]}" for name, signature in current.items())
            previous = current
            await asyncio.sleep(config.poll)


__all__ = ["FileArrival", "FileArrivalConfig", "MAX_POLL_SECONDS", "look"]
