"""A provider's own words from an HTML error page, for evidence and explanations."""

from __future__ import annotations

import re
from html import unescape

import requests

_DROP = re.compile(r"<(script|style|head)\b.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")


def page_words(response: requests.Response, limit: int = 300) -> str:
    """The visible text of ``response`` (or its JSON error), collapsed and cut short."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):  # Graph: {"error": {"message": ...}}
            return str(error.get("message", ""))[:limit]
        text = " ".join(str(body.get(k, "")) for k in ("error", "error_description"))
        return text.strip()[:limit]
    text = unescape(_TAG.sub(" ", _DROP.sub(" ", response.text)))
    return " ".join(text.split())[:limit]
