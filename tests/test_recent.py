"""The bounded per-process map the caches share."""

from __future__ import annotations

import threading

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


def test_it_stays_bounded_under_threads():
    kept: Recent[int, int] = Recent(16)

    def fill(offset: int) -> None:
        for i in range(2000):
            kept.put(offset + i, i)
            kept.get(offset + i // 2)

    threads = [threading.Thread(target=fill, args=(n * 10_000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(kept) == 16
