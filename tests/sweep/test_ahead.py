"""sweep/ahead.py: a sweep's cells computed one ahead of their logging, in order, errors where asked."""

import threading

import pytest

from imbalance_sweep.sweep.ahead import ComputedAhead


def test_each_result_is_its_items_and_items_are_computed_in_order_in_another_thread():
    seen: list[tuple[int, str]] = []

    def square(item: int) -> int:
        seen.append((item, threading.current_thread().name))
        return item * item

    with ComputedAhead(square, [3, 1, 4, 1, 5]) as ahead:
        assert [ahead.result(index) for index in range(5)] == [9, 1, 16, 1, 25]
    assert [item for item, _ in seen] == [3, 1, 4, 1, 5]
    assert {name for _, name in seen} == {"imbalance-sweep cells"}


def test_asking_for_an_item_starts_the_next_one_and_no_further():
    started: list[int] = []
    gate = threading.Event()

    def slow(item: int) -> int:
        started.append(item)
        gate.wait(10)
        return item

    with ComputedAhead(slow, [0, 1, 2, 3]) as ahead:
        gate.set()
        assert ahead.result(0) == 0
        ahead.result(1)
        computer = ahead._computer
        for _ in range(1000):  # item 2 was handed to the thread when item 1 was asked for
            if len(started) == 3:
                break
            threading.Event().wait(0.01)
    computer.join(5)
    assert started == [0, 1, 2]  # and item 3 never


def test_an_items_error_is_raised_when_that_item_is_asked_for():
    def fails_on_two(item: int) -> int:
        if item == 2:
            raise ValueError("no two")
        return item

    with ComputedAhead(fails_on_two, [1, 2, 3]) as ahead:
        assert ahead.result(0) == 1
        with pytest.raises(ValueError, match="no two"):
            ahead.result(1)


def test_leaving_cancels_what_is_not_started_and_ends_the_thread():
    started: list[int] = []

    with ComputedAhead(started.append, list(range(100))) as ahead:
        ahead.result(0)
        computer = ahead._computer
    computer.join(5)
    assert not computer.is_alive()
    assert started == [0, 1]
