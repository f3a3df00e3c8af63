"""``--cluster``, ``--node``, ``--cluster-secret-file``, ``--cluster-dir``: a cluster engine's members.

``flowbuilder scheduler --consensus raft`` needs to know every member's address and which
one it is; the members authenticate each other with a shared secret. The secret never comes
from the command line (where ``ps`` shows it to every user of the machine): it is read from
the file ``--cluster-secret-file`` names, else from ``$FLOWBUILDER_CLUSTER_SECRET``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from flowbuilder.cli.arguments import UTF8_TEXT

if TYPE_CHECKING:
    from flowbuilder.interfaces.consensus import ClusterConfig

F = TypeVar("F", bound=Callable[..., Any])

SECRET_ENV = "FLOWBUILDER_CLUSTER_SECRET"  # noqa: S105 - a variable's name, not a secret
"""The environment variable read for the cluster's shared secret when no file is given
(:data:`flowbuilder.interfaces.consensus.CLUSTER_SECRET_ENV`; not imported, to keep ``--help`` light)."""
MAX_SECRET_BYTES = 4096
"""A secret file longer than this is not a secret file (a wrong path, a binary)."""


def cluster_options(function: F) -> F:
    """The four options, in the order ``--help`` shows them."""
    options = [
        click.option("--cluster", "cluster_members", type=UTF8_TEXT, metavar="HOST:PORT,...",
                     help="Cluster consensus (raft): every member's address, this node's included."),
        click.option("--node", "cluster_node", type=UTF8_TEXT, metavar="HOST:PORT",
                     help="Cluster consensus: this node's address, one of --cluster; the only one it listens on."),
        click.option("--cluster-secret-file", type=click.Path(path_type=Path), metavar="FILE",
                     help=f"Cluster consensus: the file holding the members' shared secret (else ${SECRET_ENV})."),
        click.option("--cluster-dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
                     help="Cluster consensus: where this node keeps its term across restarts (default: memory)."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


def read_secret(secret_file: Path | None, environ: dict[str, str] | None = None) -> str | None:
    """The shared secret: the file's text without surrounding whitespace, else the environment's."""
    from flowbuilder.cli.arguments import read_argument_file
    from flowbuilder.errors import ConfigurationError

    if secret_file is None:
        value = (os.environ if environ is None else environ).get(SECRET_ENV, "")
        return value or None
    try:  # a FIFO nobody writes to reads as empty at once (open() waited forever for a writer)
        raw = read_argument_file(str(secret_file), MAX_SECRET_BYTES)
    except OSError as error:
        raise ConfigurationError(f"cannot read the cluster secret file {str(secret_file)!r}:"
                                 f" {error.strerror or error}") from None  # fmt: skip
    if len(raw) > MAX_SECRET_BYTES:
        raise ConfigurationError(f"the cluster secret file {str(secret_file)!r} is over {MAX_SECRET_BYTES} bytes:"
                                 " is it the right file?")  # fmt: skip
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigurationError(f"the cluster secret file {str(secret_file)!r} is not UTF-8 text") from None
    if not secret:
        raise ConfigurationError(f"the cluster secret file {str(secret_file)!r} is empty")
    return secret


def cluster_config(members: str | None, node: str | None, secret_file: Path | None,
                   state_dir: Path | None) -> ClusterConfig | None:  # fmt: skip
    """The :class:`~flowbuilder.interfaces.ClusterConfig` the options describe, or None without ``--cluster``."""
    from flowbuilder.errors import ConfigurationError
    from flowbuilder.interfaces.consensus import ClusterConfig

    if members is None:
        for given, flag in ((node, "--node"), (secret_file, "--cluster-secret-file"), (state_dir, "--cluster-dir")):
            if given is not None:
                raise ConfigurationError(f"{flag} needs --cluster HOST:PORT,... (every member's address)")
        return None
    addresses = tuple(address.strip() for address in members.split(",") if address.strip())
    if not addresses:
        raise ConfigurationError("--cluster is empty: give every member's HOST:PORT, separated by commas")
    if node is None:
        if len(addresses) > 1:
            raise ConfigurationError(f"--cluster names {len(addresses)} members: say which one this process is"
                                     " with --node HOST:PORT")  # fmt: skip
        node = addresses[0]
    return ClusterConfig(node=node.strip(), members=addresses, secret=read_secret(secret_file), state_dir=state_dir)


__all__ = ["MAX_SECRET_BYTES", "SECRET_ENV", "cluster_config", "cluster_options", "read_secret"]
