"""What a provider's console asks for: its fields, and the form of each value.

Consoles disagree on the form of the same fact: Google's "Authorized JavaScript
origins" wants an origin (``https://site.example``), Facebook's "App Domains" and
Apple's "Domains and Subdomains" a bare host name (``site.example``), every
"redirect URI" field the whole URL. A value pasted in the wrong form is refused
by the console or, worse, saved and never matched. Each provider class says the
form of each of its fields (``Provider.CONSOLE_FORMS``), so the matrix and
``fedlab check`` give every value as that console wants it, without asking
which kind a provider is.
"""

from __future__ import annotations

import enum
from urllib.parse import urlsplit

import msgspec


class Form(enum.Enum):
    """The form a console field wants its value in."""

    #: The whole URL, byte for byte (redirect URIs, logout URLs).
    URL = "url"
    #: Scheme, host and port, no path (``https://site.example:8443``).
    ORIGIN = "origin"
    #: The host name alone, no scheme, port or path (``site.example``).
    HOST = "host"

    def of(self, url: str) -> str:
        """``url`` in this form."""
        if self is Form.URL:
            return url
        parts = urlsplit(url)
        if self is Form.ORIGIN:
            return f"{parts.scheme}://{parts.netloc}"
        return parts.hostname or ""

    @property
    def noun(self) -> str:
        """What the page calls a value of this form."""
        return FORM_NOUNS[self]


FORM_NOUNS = {Form.URL: "URL", Form.ORIGIN: "origin", Form.HOST: "domain (host name only)"}

#: What each registered value is, in the page's words.
LABELS = {
    "callback": "Callback URL",
    "sign_out": "Sign-out return URL",
    "backchannel_logout": "Back-channel logout URL",
    "origin": "Site",
}


class ConsoleRow(msgspec.Struct, frozen=True, kw_only=True):
    """One value to enter in a console: which, where, and in which form."""

    #: What it is: ``callback``, ``sign_out``, ``backchannel_logout``, ``origin``.
    register: str
    #: The page's name for it ("Callback URL", "Site domain (host name only)").
    label: str
    #: The console's own words for the field.
    where: str
    #: The value, already in the field's form.
    value: str
    form: Form


def console_row(register: str, where: str, url: str, form: Form) -> ConsoleRow:
    """The row for one field: ``url`` (the site's own value) put in ``form``."""
    label = LABELS.get(register, register)
    if register == "origin":
        label = f"{label} {form.noun}"
    return ConsoleRow(register=register, label=label, where=where, value=form.of(url),
                      form=form)
