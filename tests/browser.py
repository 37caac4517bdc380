"""A tiny HTML browser over requests, for driving the stand-ins' real pages in tests.

It follows redirects, keeps cookies per host as a browser does, and submits a
page's form by the visible text of one of its buttons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str | None, str | None]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: list[str] | None = None
        self._button_attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action") or "", (a.get("method") or "get").lower()))
        elif tag == "input" and self.forms and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind == "submit":
                self.forms[-1].buttons.append((a.get("value") or "", a["name"], a.get("value")))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self.forms[-1].fields[a["name"]] = a.get("value") or ""
        elif tag == "button" and self.forms:
            self._button, self._button_attrs = [], a

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            text = " ".join("".join(self._button).split())
            a = self._button_attrs
            self.forms[-1].buttons.append((text, a.get("name"), a.get("value")))
            self._button = None


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class Browser:
    def __init__(self, timeout: float = 10) -> None:
        self.http = requests.Session()
        #: Each request's own timeout: a test of a slow dependency sets it below
        #: the dependency's delay, so a page that hangs raises instead of passing.
        self.timeout = timeout

    def get(self, url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.http.get(url, **kwargs)

    def post(self, url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return self.http.post(url, **kwargs)

    def buttons(self, page: requests.Response) -> list[str]:
        return [b[0] for f in forms(page.text) for b in f.buttons]

    def click(self, page: requests.Response, text: str, follow: bool = True,
              **overrides: str) -> requests.Response:
        """Submit the form holding the button that reads ``text``."""
        for form in forms(page.text):
            for label, name, value in form.buttons:
                if label == text:
                    data = dict(form.fields)
                    if name:
                        data[name] = value or ""
                    data.update(overrides)
                    url = urljoin(page.url, form.action or page.url)
                    if form.method == "post":
                        return self.post(url, data=data, allow_redirects=follow)
                    return self.get(url, params=data, allow_redirects=follow)
        raise AssertionError(f"no button {text!r} on {page.url}: {self.buttons(page)}")

    def csrf(self, page: requests.Response) -> str:
        for form in forms(page.text):
            if "csrf_token" in form.fields:
                return form.fields["csrf_token"]
        raise AssertionError(f"no CSRF token on {page.url}")
