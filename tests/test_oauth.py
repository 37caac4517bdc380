"""The OAuth client's connections to a provider, as the provider sees them."""

from __future__ import annotations

from .browser import Browser
from .flows import sign_in


def test_code_exchanges_reuse_one_kept_alive_connection(app_url, control, graph_front):
    """authlib makes and closes a session for every token request; they share the
    app's connection pool, so every sign-in after the first sends its code over
    the connection already open (in production: no new TCP and TLS handshake
    before each sign-in's exchange). Three visitors sign in with Facebook, whose
    Graph API sits behind a keep-alive front here: its token endpoint was asked
    three times, on one connection."""
    for user in ("alice", "bob", "alice"):
        page = sign_in(Browser(), app_url, "facebook", user)
        assert page.url == f"{app_url}/account", page.text[:300]
    token = [port for path, port in graph_front.seen if path.endswith("/oauth/access_token")]
    assert len(token) == 3
    assert len(set(token)) == 1
    # The profile calls after each exchange use the same pool.
    assert len({port for _, port in graph_front.seen}) == 1


def test_no_cookie_passes_from_one_visitors_provider_call_to_anothers(app_url, control,
                                                                       graph_front):
    """The app's calls to a provider share connections, never cookies: a cookie a
    provider sets while answering for one visitor is not sent with the calls made
    for the next (the front here sets one on every answer)."""
    for user in ("alice", "bob"):
        page = sign_in(Browser(), app_url, "facebook", user)
        assert page.url == f"{app_url}/account", page.text[:300]
    assert len(graph_front.seen) >= 4
    assert graph_front.cookies == []
