"""The ``checksum`` task type: hash files, and optionally verify them against known digests.

Useful after a download or a build step: a later task reads the digests with
``${{ tasks.sums.output.files['dist/app.tar.gz'] }}``, and ``expect`` turns a corrupted
artifact into a failed task instead of a silent problem downstream.

Config (validated when the workflow is loaded, errors located at FILE:LINE:COL)::

    - name: sums
      type: checksum
      config:
        paths: [dist/app.tar.gz, dist/app.whl]   # files to hash (at least one)
        algorithm: sha256                        # sha256 (default), sha512, sha1, md5, blake2b
        expect: {dist/app.whl: "9f86d08..."}     # optional: digests that must match

Output: ``{"algorithm": "sha256", "files": {path: hexdigest, ...}, "bytes": total}``.

Failures: a missing or unreadable file, or a digest that does not match ``expect``, fails
the task with a :class:`~flowbuilder.TaskFailure` marked not retryable — trying again would
not change the answer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from flowbuilder.interfaces import ExecutionMode, TaskContext, TaskFailure, TaskType

_CHUNK = 1024 * 1024


def _hex_digest(digest: str) -> str:
    if not digest or any(c not in "0123456789abcdefABCDEF" for c in digest):
        raise ValueError(f"a digest must be hexadecimal, got {digest!r}")
    return digest.lower()


# Validated per value (not in a validator of the whole dict) so that an error points at the
# value's own line and column, and a value written as ``${{ ... }}`` is checked after the
# runner renders it instead of being rejected when the workflow loads.
HexDigest = Annotated[str, AfterValidator(_hex_digest)]


class ChecksumConfig(BaseModel):
    """What a ``checksum`` task hashes and how."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[str] = Field(min_length=1, description="Files to hash, relative to the working directory or absolute.")
    algorithm: Literal["sha256", "sha512", "sha1", "md5", "blake2b"] = Field("sha256", description="The hash function.")
    expect: dict[str, HexDigest] = Field(
        default_factory=dict, description="Expected hex digests by path; a mismatch fails the task."
    )

    @model_validator(mode="after")
    def _expect_only_listed_paths(self) -> ChecksumConfig:
        unknown = sorted(set(self.expect) - set(self.paths))
        if unknown:
            raise ValueError(f"expect names {unknown[0]!r}, which is not in paths; add it to paths")
        return self


def hash_file(path: str, algorithm: str) -> tuple[str, int]:
    """The hex digest and size of one file, read in chunks (constant memory)."""
    digest = hashlib.new(algorithm)
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class Checksum(TaskType):
    """Hashes files; one instance serves every ``checksum`` task (it keeps no per-task state)."""

    name: ClassVar[str] = "checksum"
    config_model: ClassVar[type[BaseModel]] = ChecksumConfig
    mode: ClassVar[ExecutionMode] = ExecutionMode.ASYNC
    summary: ClassVar[str] = "hash files (sha256, ...) and optionally verify them"

    def estimate_duration(self, config: BaseModel) -> float | None:
        assert isinstance(config, ChecksumConfig)
        try:  # ~500 MB/s is a fair guess for sha256 on one core
            return sum(Path(p).stat().st_size for p in config.paths) / 500e6
        except OSError:
            return None

    async def run(self, config: BaseModel, context: TaskContext) -> dict[str, Any]:
        import asyncio  # here, not at the top: `flowbuilder validate` loads this module and never runs it

        assert isinstance(config, ChecksumConfig)
        files: dict[str, str] = {}
        total = 0
        for path in config.paths:
            try:  # hashing releases the GIL on large buffers; keep the event loop free
                digest, size = await asyncio.to_thread(hash_file, path, config.algorithm)
            except FileNotFoundError:
                raise TaskFailure(f"checksum: no such file {path!r}", retryable=False) from None
            except OSError as error:
                raise TaskFailure(f"checksum: cannot read {path!r}: {error.strerror}", retryable=False) from None
            files[path] = digest
            total += size
            context.log("stdout", f"{digest}  {path}")
        output = {"algorithm": config.algorithm, "files": files, "bytes": total}
        mismatched = [path for path, digest in config.expect.items() if files[path] != digest]
        if mismatched:
            path = mismatched[0]
            raise TaskFailure(
                f"checksum: {path!r} has {config.algorithm} {files[path]}, expected {config.expect[path]}",
                retryable=False,
                output=output,
            )
        return output
