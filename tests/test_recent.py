"""The bounded per-process map the caches share."""

from __future__ import annotations

from webapp.recent import Recent


def test_the_least_recently_used_entry_goes_first():
    kept: Recent[str, int] = Recent(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recent
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (1, None, 3)
    assert len(kept) == 2


def test_a_put_replaces_and_refreshes_its_entry():
    kept: Recent[str, int] = Recent(2)
    kept.put("a", 1)
    kept.put("b", 2)
    kept.put("a", 10)
    kept.put("c", 3)
    assert (kept.get("a"), kept.get("b")) == (10, None)


def test_discard_drops_only_the_value_it_was_given():
    kept: Recent[str, list] = Recent(4)
    old, new = ["old"], ["new"]
    kept.put("k", old)
    kept.put("k", new)  # another thread kept a newer one meanwhile
    kept.discard("k", old)
    assert kept.get("k") is new
    kept.discard("k", new)
    assert kept.get("k") is None
