"""Emitting ASTs: driver placeholders in order, % doubled for pyformat drivers, comments gone."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from dialects import get_dialect
from rls.emit import emit, placeholder
from rls.errors import Refused

EXPECTED = {
    "postgres": ('SELECT %s FROM "t" WHERE "a" LIKE \'5%%\' AND "b" = %s', ("v1", "v0")),
    "mysql": ("SELECT %s FROM `t` WHERE `a` LIKE '5%%' AND `b` = %s", ("v1", "v0")),
    "sqlite": ('SELECT ? FROM "t" WHERE "a" LIKE \'5%\' AND "b" = ?', ("v1", "v0")),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_emit_per_dialect(name):
    tree = (
        exp.select(placeholder("v1"))
        .from_(exp.Table(this=exp.to_identifier("t", quoted=True)))
        .where(
            exp.and_(
                exp.Like(this=exp.column("a", quoted=True), expression=exp.Literal.string("5%")),
                exp.column("b", quoted=True).eq(placeholder("v0")),
            )
        )
    )
    emitted = emit(tree, get_dialect(name))
    assert (emitted.sql, emitted.names) == EXPECTED[name]


@pytest.mark.parametrize("name", EXPECTED)
def test_emit_drops_comments(name):
    tree = sqlglot.parse_one("SELECT 1 /*! DROP TABLE x */ AS a -- hi", read=get_dialect(name).SQLGLOT)
    assert "DROP" not in emit(tree, get_dialect(name)).sql


def test_emit_refuses_nul_in_literals():
    with pytest.raises(Refused):
        emit(exp.select(exp.Literal.string("a\x00b")), get_dialect("sqlite"))
