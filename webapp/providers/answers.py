"""Reading a provider's JSON answers: shared by the OAuth client and the kinds.

Below both :mod:`webapp.oauth` and the kind classes, so a kind (Facebook's
Graph batch) reads answers without importing the client that calls it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import FedlabError

if TYPE_CHECKING:
    from .base import Provider


def answer_json(provider: Provider, endpoint: str, status: Any, body: str | bytes | None,
                expect: type = dict) -> Any:
    """The JSON document of a 200 answer, of the ``expect``-ed type; anything else
    from ``endpoint`` is the provider answering something unexpected."""
    try:
        document = json.loads(body) if status == 200 and body is not None else None
    except ValueError:
        document = None
    if not isinstance(document, expect):
        raise FedlabError("provider_bad_response", provider=provider.name, endpoint=endpoint,
                          detail=f"HTTP {status}")
    return document
