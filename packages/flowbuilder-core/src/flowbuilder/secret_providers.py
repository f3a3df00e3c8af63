"""Core's two secret providers: the environment and a directory of files.

* ``environment``: ``${{ secrets.DB_PASSWORD }}`` is ``$FLOWBUILDER_SECRET_DB_PASSWORD``.
  The prefix keeps a workflow from reading arbitrary variables of the runner's
  environment through ``secrets``.
* ``files``: one file per secret, named after it, in the directory given by ``[secrets]
  dir`` in ``flowbuilder.toml`` (``FLOWBUILDER_SECRETS__DIR``), else
  ``$CREDENTIALS_DIRECTORY`` (systemd's ``LoadCredential=``). The file's text is the value,
  with one trailing newline removed (what ``echo`` and most editors leave).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from flowbuilder.errors import ConfigurationError
from flowbuilder.interfaces.secrets import SecretProvider

ENV_PREFIX = "FLOWBUILDER_SECRET_"
MAX_SECRET_FILE_BYTES = 1 << 20


class EnvironmentSecrets(SecretProvider):
    name: ClassVar[str] = "environment"

    def __init__(self, environ: os._Environ[str] | dict[str, str] | None = None):
        self.environ = os.environ if environ is None else environ

    def get(self, name: str) -> str | None:
        return self.environ.get(ENV_PREFIX + name)


class DirectorySecrets(SecretProvider):
    name: ClassVar[str] = "files"

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)

    def get(self, name: str) -> str | None:
        path = self.directory / name
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_SECRET_FILE_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise ConfigurationError(f"secret file {str(path)!r}: {error.strerror}") from None
        if len(data) > MAX_SECRET_FILE_BYTES:
            raise ConfigurationError(f"secret file {str(path)!r} is over {MAX_SECRET_FILE_BYTES} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigurationError(f"secret file {str(path)!r} is not UTF-8 text") from None
        return text[:-1] if text.endswith("\n") else text
