"""The query-string grammar, on its own (no database)."""

from __future__ import annotations

import pytest

from rls.errors import BadRequest
from rls.rest.query import Filter, parse_filter, parse_in_list, parse_query


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("eq.a@b.com", ("eq", ("a@b.com",))),
        ("eq.3.14", ("eq", ("3.14",))),
        ("eq.", ("eq", ("",))),
        ("in.(1.5,2)", ("in", ("1.5", "2"))),
        ("is.NULL", ("is", ("null",))),
        ("like.*.txt", ("like", ("*.txt",))),
    ],
)
def test_filter_splits_on_the_first_dot_only(text, expected):
    f = parse_filter("k", text)
    assert (f.op, f.values) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(a)", ("a",)),
        ("(a, b)", ("a", "b")),
        ('("a,b",c)', ("a,b", "c")),
        ('("say \\"hi\\"")', ('say "hi"',)),
        ("(,)", ("", "")),
    ],
)
def test_in_list_items(text, expected):
    assert parse_in_list("k", text) == expected


@pytest.mark.parametrize("text", ["()", "(a", "a,b", '("open)', '("a"b)'])
def test_bad_in_lists_are_refused(text):
    with pytest.raises(BadRequest):
        parse_in_list("k", text)


def test_flags_are_set_by_presence():
    q = parse_query("count&singular&debug&mine")
    assert (q.count, q.singular, q.debug, q.mine) == (True, True, True, True)


def test_filters_are_sorted_stably_by_key_then_operator():
    q = parse_query("b=eq.1&a=lt.9&a=gt.1&a=gt.0")
    assert [(f.key, f.op, f.values[0]) for f in q.filters] == [
        ("a", "gt", "1"),
        ("a", "gt", "0"),
        ("a", "lt", "9"),
        ("b", "eq", "1"),
    ]


def test_shape_ignores_values_but_not_arity():
    assert parse_query("id=eq.1").shape == parse_query("id=eq.2").shape
    assert parse_query("id=in.(1,2)").shape != parse_query("id=in.(1,2,3)").shape
    assert parse_query("x=is.null").shape != parse_query("x=is.true").shape


def test_all_rows_marker():
    q = parse_query("1=eq.1")
    assert q.all_rows and q.has_filter and q.filters == ()


def test_option_given_twice_is_refused():
    with pytest.raises(BadRequest, match="twice"):
        parse_query("select=a&select=b")


def test_values_come_in_filter_order():
    assert parse_query("b=eq.2&a=in.(x,y)&c=is.null").values() == ["x", "y", "2"]


def test_filter_dataclass_shape():
    assert Filter("a", "in", ("1", "2")).shape == ("a", "in", 2)


def test_dotted_keys_address_embedded_resources() -> None:
    q = parse_query("projects.name=eq.x&projects.tasks.done=is.true&projects.order=name.desc&projects.limit=2&id=gt.1")
    assert [(f.path, f.key, f.op) for f in q.filters] == [
        ((), "id", "gt"),
        (("projects",), "name", "eq"),
        (("projects", "tasks"), "done", "is"),
    ]
    assert [(o.path, o.name, o.value) for o in q.embedded] == [
        (("projects",), "limit", "2"),
        (("projects",), "order", "name.desc"),
    ]
    assert q.shape != parse_query("projects.name=eq.x&projects.tasks.done=is.true&id=gt.1").shape


@pytest.mark.parametrize("key", [".name", "projects.", "a..b"])
def test_malformed_dotted_keys_are_refused(key: str) -> None:
    with pytest.raises(BadRequest):
        parse_query(f"{key}=eq.1")
