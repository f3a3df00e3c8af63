"""The audit role of a store: an append-only, bounded log of who did what (issue 13).

Servers append one :class:`~flowbuilder.audit.AuditRecord` per mutating call, allowed or
refused; ``flowbuilder audit`` and the UI read it. :class:`AuditLog` is a role that
:class:`~flowbuilder.interfaces.Store` inherits; its methods have defaults that refuse with
a one-line :class:`~flowbuilder.errors.StoreError` (``read_audit`` returns an empty page), so
a store written before them keeps working for everything else. A store overrides both to
take part; the Store contract (version 8) checks them.

Guarantees a store that overrides them gives:

* :meth:`~AuditLog.append_audit` stores the record in core's encoding
  (:func:`~flowbuilder.audit.encode_audit_record`, which masks secret-looking fields and
  bounds every text) and returns it as stored, with its ``seq``: 1, 2, ... in arrival order,
  unique across every process sharing the store (none lost when several append at once);
* :meth:`~AuditLog.read_audit` pages **newest first**: ``after=None`` starts at the newest
  record; each page's ``next_after`` is the cursor of the next, older page (None on the
  page holding the oldest record kept). Records appended while paging do not shift the
  pages (the cursor is a record number, not an offset);
* **append-only**: there is no call that deletes or changes a record, and
  :meth:`~flowbuilder.interfaces.Store.delete_run` leaves the log alone;
* **bounded**: the store keeps the newest :attr:`~AuditLog.audit_retention` records
  (default :data:`~flowbuilder.audit.DEFAULT_AUDIT_RETENTION`), dropping the oldest as
  it appends;
* records survive reopening the store.
"""

from __future__ import annotations

from abc import ABC
from typing import TYPE_CHECKING, Any, ClassVar

DEFAULT_AUDIT_RETENTION = 100_000
"""How many records a store keeps by default: the newest; ``[audit] retention`` in flowbuilder.toml
(``FLOWBUILDER_AUDIT__RETENTION``) changes it. Defined here, and exported by
:mod:`flowbuilder.audit` as its own, so that every store (whose class inherits this role) does
not import :mod:`flowbuilder.audit` and its record classes for a run that writes no record."""


def audit_retention_setting(section: Any) -> int:
    """``[audit] retention`` from a settings section (default :data:`DEFAULT_AUDIT_RETENTION`).

    Here for the same reason as the default: stores call it when they open (exported by
    :mod:`flowbuilder.audit` too)."""
    from flowbuilder.errors import ConfigurationError

    raw = section.get("retention", DEFAULT_AUDIT_RETENTION) if section else DEFAULT_AUDIT_RETENTION
    try:
        value = int(str(raw))
    except ValueError:
        raise ConfigurationError(f"[audit] retention = {raw!r} must be a whole number of records") from None
    if value < 1:
        raise ConfigurationError(f"[audit] retention = {value} must be at least 1")
    return value


if TYPE_CHECKING:
    from flowbuilder.audit import AuditPage, AuditRecord


class AuditLog(ABC):
    """The audit log of a store (see the module docstring)."""

    scheme: ClassVar[str]
    audit_retention: int = DEFAULT_AUDIT_RETENTION
    """How many records this open store keeps (the newest); each append drops those beyond
    it. Stores set it from ``[audit] retention`` when they open; tests may set it on an
    instance. Appenders sharing a store should agree on it: the smallest one wins."""

    def append_audit(self, record: AuditRecord) -> AuditRecord:
        """Store ``record``; return it as stored (masked, bounded, UTC) with its ``seq``.

        One-line :class:`~flowbuilder.errors.StoreError` for a record that is not one (a
        field that is not text, a time without a zone, no actor or action). The default
        refuses: the store keeps no audit log.
        """
        from flowbuilder.errors import StoreError

        raise StoreError(f"the {self.scheme}:// store keeps no audit log (its plugin predates it);"
                         " upgrade the plugin or use memory://, rocksdb://, redis://")  # fmt: skip

    def read_audit(self, *, after: int | None = None, limit: int = 100) -> AuditPage:
        """Up to ``limit`` records, newest first, older than record ``after`` (None: from the newest).

        One-line :class:`~flowbuilder.errors.StoreError` for ``limit < 1`` or a cursor that is
        not a record number. The default: an empty last page.
        """
        from flowbuilder.audit import AuditPage, check_audit_page

        check_audit_page(after, limit)
        return AuditPage([], None)


__all__ = ["DEFAULT_AUDIT_RETENTION", "AuditLog", "audit_retention_setting"]
