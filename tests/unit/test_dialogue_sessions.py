"""Session store: bounded count, TTL, isolation, token budget, thread safety."""

from __future__ import annotations

import threading

from chatbot.sessions import SessionStore, trim_history
from chatbot.types import ChatMessage, PatientProfile


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_ttl_and_max_sessions() -> None:
    clock = Clock()
    store = SessionStore(max_sessions=2, ttl_s=10, clock=clock)
    store.update("a", turns=[ChatMessage("user", "q")])
    store.update("b", turns=[ChatMessage("user", "q")])
    store.snapshot("a")  # a is now the most recently used
    store.update("c", turns=[ChatMessage("user", "q")])
    assert len(store) == 2 and store.snapshot("a").turns and store.snapshot("b").turns == []
    clock.t = 100
    assert store.snapshot("a").turns == []  # expired


def test_snapshots_are_copies_and_profiles_stay_in_their_session() -> None:
    store = SessionStore(10, 60)
    store.update("a", turns=[ChatMessage("user", "q")], profile=PatientProfile(age=3))
    snap = store.snapshot("a")
    snap.turns.append(ChatMessage("user", "injected"))
    assert len(store.snapshot("a").turns) == 1
    assert store.snapshot("b").profile is None
    store.reset("a")
    assert store.snapshot("a").profile is None


def test_trim_history_keeps_recent_turns_within_budget() -> None:
    turns = [ChatMessage("user" if i % 2 == 0 else "assistant", f"message {i} " + "w " * 10) for i in range(10)]
    kept = trim_history(turns, budget=40, count_tokens=lambda t: len(t.split()))
    assert kept and kept[-1] == turns[-1] and kept[0].role == "user"
    assert sum(len(m.content.split()) + 4 for m in kept) <= 40
    assert trim_history(turns, budget=0, count_tokens=len) == []


def test_concurrent_updates_do_not_mix_sessions() -> None:
    store = SessionStore(1000, 60)

    def worker(sid: str) -> None:
        for i in range(200):
            store.update(sid, turns=[ChatMessage("user", f"{sid}-{i}")])

    threads = [threading.Thread(target=worker, args=(f"s{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(8):
        turns = store.snapshot(f"s{n}").turns
        assert len(turns) == 200 and all(m.content.startswith(f"s{n}-") for m in turns)
