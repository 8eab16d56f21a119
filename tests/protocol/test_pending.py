"""DeadlineTable: the sans-I/O table of pending requests with deadlines."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from aiosocketio.protocol.pending import DeadlineTable


def test_add_get_pop_and_views() -> None:
    table: DeadlineTable[int, str] = DeadlineTable()
    assert not table and len(table) == 0 and table.next_deadline() is None
    table.add(1, "a", 5.0)
    table.add(2, "b")
    table.add(3, "c", 2.0)
    assert table and len(table) == 3
    assert 1 in table and 4 not in table
    assert list(table) == [1, 2, 3]
    assert table.get(2) == "b" and table.get(4) is None
    assert table.values() == ["a", "b", "c"]
    assert table.items() == [(1, "a"), (2, "b"), (3, "c")]
    assert table.next_deadline() == 2.0
    assert table.pop(3) == "c"
    assert table.pop(3) is None  # handed out once
    assert table.next_deadline() == 5.0
    assert table.pop(4) is None
    assert table.take_all() == ["a", "b"]
    assert not table and table.next_deadline() is None and table.expire(1e9) == []


def test_iterating_while_popping_is_safe() -> None:
    table: DeadlineTable[int, int] = DeadlineTable()
    for i in range(5):
        table.add(i, i, float(i))
    for key in table:
        table.pop(key)
    assert not table


def test_expire_takes_what_is_due_in_deadline_then_insertion_order() -> None:
    table: DeadlineTable[str, int] = DeadlineTable()
    table.add("late", 1, 3.0)
    table.add("first", 2, 1.0)
    table.add("second", 3, 1.0)
    table.add("never", 4)
    assert table.expire(0.5) == []
    assert table.expire(1.0) == [("first", 2), ("second", 3)]  # at the deadline: due
    assert table.next_deadline() == 3.0
    assert table.expire(10.0) == [("late", 1)]
    assert table.next_deadline() is None
    assert table.values() == [4]  # no deadline: only an answer or take_all removes it


def test_an_answered_entry_never_expires() -> None:
    table: DeadlineTable[str, int] = DeadlineTable()
    table.add("a", 1, 1.0)
    table.add("b", 2, 2.0)
    assert table.pop("a") == 1
    assert table.next_deadline() == 2.0
    assert table.expire(5.0) == [("b", 2)]


def test_adding_a_key_again_replaces_its_value_and_deadline() -> None:
    table: DeadlineTable[str, int] = DeadlineTable()
    table.add("a", 1, 1.0)
    table.add("a", 2, 5.0)
    assert len(table) == 1 and table.get("a") == 2
    assert table.next_deadline() == 5.0
    assert table.expire(1.0) == []
    table.add("a", 3)  # no deadline any more
    assert table.next_deadline() is None
    assert table.expire(10.0) == [] and table.get("a") == 3


def test_a_key_popped_and_added_again_with_the_same_deadline_keeps_the_order() -> None:
    table: DeadlineTable[str, int] = DeadlineTable()
    table.add("a", 1, 1.0)
    table.add("b", 2, 1.0)
    table.pop("a")
    table.add("a", 3, 1.0)
    # "a" was set after "b": its old heap item must not count
    assert table.expire(1.0) == [("b", 2), ("a", 3)]


def test_none_is_a_value_like_any_other() -> None:
    table: DeadlineTable[str, None] = DeadlineTable()
    table.add("a", None, 1.0)
    assert "a" in table
    assert table.pop("a") is None
    assert "a" not in table
    assert table.next_deadline() is None
    assert table.expire(2.0) == []


def test_stale_heap_items_are_swept() -> None:
    table: DeadlineTable[int, int] = DeadlineTable()
    table.add(-1, -1, 1e9)  # one entry stays, so the heap is not simply cleared
    for i in range(10_000):
        table.add(i, i, float(i))
        table.pop(i)
    assert len(table._heap) < 200
    assert table.next_deadline() == 1e9
    assert table.expire(1e9) == [(-1, -1)]


# -- the table against a naive model ----------------------------------------------------------


@dataclass
class Model:
    """A dict of key -> (value, deadline, order); everything recomputed by brute force."""

    entries: dict[int, tuple[int | None, float | None, int]] = field(default_factory=dict)
    counter: int = 0

    def add(self, key: int, value: int | None, deadline: float | None) -> None:
        # a key added again keeps its place among the values (a dict update), but its
        # deadline counts from this add
        self.counter += 1
        self.entries[key] = (value, deadline, self.counter)

    def pop(self, key: int) -> int | None:
        entry = self.entries.pop(key, None)
        return None if entry is None else entry[0]

    def next_deadline(self) -> float | None:
        deadlines = [d for _, d, _ in self.entries.values() if d is not None]
        return min(deadlines) if deadlines else None

    def expire(self, now: float) -> list[tuple[int, int | None]]:
        due = [
            (d, order, key, value)
            for key, (value, d, order) in self.entries.items()
            if d is not None and d <= now
        ]
        due.sort()
        for _, _, key, _ in due:
            del self.entries[key]
        return [(key, value) for _, _, key, value in due]


# Few keys and deadlines: collisions (a key added again, equal deadlines) are the point.
keys = st.integers(0, 2)
deadlines = st.none() | st.integers(0, 2).map(float)
add = st.tuples(st.just("add"), keys, st.none() | st.integers(0, 9), deadlines)
operations = st.lists(
    st.one_of(
        add,
        add,
        st.tuples(st.just("pop"), keys),
        st.tuples(st.just("expire"), st.integers(0, 2).map(float)),
        st.tuples(st.just("take_all")),
        # next_deadline() drops stale heap items: asked only now and then, so that
        # expire() meets them too
        st.tuples(st.just("next_deadline")),
    ),
    min_size=5,
    max_size=60,
)


@settings(max_examples=400)
@given(operations)
def test_the_table_behaves_like_the_naive_model(ops: list[tuple[object, ...]]) -> None:
    table: DeadlineTable[int, int | None] = DeadlineTable()
    model = Model()
    for op in ops:
        if op[0] == "add":
            _, key, value, deadline = op
            assert isinstance(key, int) and (value is None or isinstance(value, int))
            assert deadline is None or isinstance(deadline, float)
            table.add(key, value, deadline)
            model.add(key, value, deadline)
        elif op[0] == "pop":
            key = op[1]
            assert isinstance(key, int)
            assert table.pop(key) == model.pop(key)
        elif op[0] == "expire":
            now = op[1]
            assert isinstance(now, float)
            assert table.expire(now) == model.expire(now)
        elif op[0] == "take_all":
            assert table.take_all() == [v for v, _, _ in model.entries.values()]
            model.entries.clear()
        else:
            assert table.next_deadline() == model.next_deadline()
        assert table.items() == [(k, v) for k, (v, _, _) in model.entries.items()]
        assert len(table) == len(model.entries)
    assert table.next_deadline() == model.next_deadline()
