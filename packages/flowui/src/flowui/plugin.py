"""flowbuilder-ui's registration with core (entry point group ``flowbuilder.plugins``).

Hook implementations are added here as the server's pieces land (issue 13); importing this
module must stay cheap: the server stack loads only when ``flowbuilder serve`` runs.
"""

from __future__ import annotations
