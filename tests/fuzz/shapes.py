"""Statement shapes: SELECTs (joins, sub-queries, CTEs, set operations, aggregates,
windows, ORDER BY/LIMIT) and DML (INSERT, INSERT … SELECT, UPDATE, UPDATE … FROM,
DELETE, DELETE … USING, upserts, RETURNING, WITH …)."""

from __future__ import annotations

import re
from typing import Any

from tests.fuzz.generator import DIALECTS, WRITE_WEIGHTS, Case, Gen, _links
from tests.fuzz.world import TABLE, USERS, TableDef

_MARK = re.compile(r"\{p(\d+)\}")


class Statements(Gen):
    def case(self, index: int, user: str | None = None, dml: float = 0.35) -> Case:
        user = user or self.pick(USERS)
        self._reset(user)
        if self.chance(dml):
            kind, sql, target = "dml", *self.dml()
        else:
            kind, sql, target = "select", self.select(), None
        variants = sql if isinstance(sql, dict) else dict.fromkeys(DIALECTS, sql)
        # Number the placeholders in text order (the PostgreSQL text defines the order;
        # every variant uses the same placeholders in the same order).
        order = [int(m) for m in _MARK.findall(variants["postgres"] or "")]
        params = tuple(self.params[i] for i in order)
        for d, text in variants.items():
            if text is not None:
                if [int(m) for m in _MARK.findall(text)] != order:
                    variants[d] = None  # pragma: no cover - a variant that reorders: skip it
                else:
                    variants[d] = _MARK.sub("{p}", text)
        features = tuple(sorted(self.features))
        named = bool(params) and self.chance(0.2)
        if named:
            features = (*features, "named")
        return Case(index, user, kind, variants, params, frozenset(self.uses), features, target, self.shape, named)

    # -- SELECT -------------------------------------------------------------------------

    def select(self) -> str | dict[str, str | None]:
        shapes = {
            "plain": 4, "join": 3, "left_join": 3, "join3": 1, "derived": 2, "cte": 2, "cte_shadow": 1,
            "cte_capture": 1, "recursive_num": 1, "recursive_table": 1, "setop": 2, "agg": 3, "window": 2,
            "limit": 2, "count_all": 1, "forward_cte": 1, "lateral": 1, "setop_derived": 1,
        }  # fmt: skip
        shape = self.rng.choices(list(shapes), list(shapes.values()))[0]
        self.features.add(shape)
        self.shape = shape
        sql: str | dict[str, str | None] = getattr(self, f"s_{shape}")()
        return sql

    def simple(self, t: TableDef | None = None, kinds: list[str | None] | None = None, named: bool = False) -> str:
        t = t or self.table()
        a = self.alias()
        kinds = kinds or [None] * self.rng.randint(1, 3)
        cols = [self.projection(a, t, k)[0] for k in kinds]
        if named:
            cols = [f"{c} AS c{i + 1}" for i, c in enumerate(cols)]
        where = f" WHERE {self.cond(a, t)}" if self.chance(0.75) else ""
        return f"SELECT {', '.join(cols)} FROM {self.read(t.name)} {a}{where}"

    def s_plain(self) -> str:
        if self.chance(0.15):
            t = self.table()
            return f"SELECT * FROM {self.read(t.name)}"
        return self.simple()

    def s_count_all(self) -> str:
        t = self.table()
        a = self.alias()
        where = f" WHERE {self.cond(a, t)}" if self.chance(0.5) else ""
        return f"SELECT COUNT(*) FROM {self.read(t.name)} {a}{where}"

    def join_from(self, kind: str) -> tuple[str, list[tuple[str, TableDef]]]:
        t = self.table()
        col, other, ocol = self.pick(_links(t.name))
        a, b = self.alias(), self.alias()
        text = f"{self.read(t.name)} {a} {kind} {self.read(other)} {b} ON {b}.{ocol} = {a}.{col}"
        return text, [(a, t), (b, TABLE[other])]

    def s_join(self, kind: str = "JOIN") -> str:
        text, rels = self.join_from(kind)
        cols = ", ".join(self.projection(al, t)[0] for al, t in rels)
        al, t = self.pick(rels)
        where = f" WHERE {self.cond(al, t)}" if self.chance(0.6) else ""
        return f"SELECT {cols} FROM {text}{where}"

    def s_left_join(self) -> str:
        return self.s_join("LEFT JOIN")

    def s_join3(self) -> str:
        text, rels = self.join_from(self.pick(["JOIN", "LEFT JOIN"]))
        b, bt = rels[1]
        col, other, ocol = self.pick(_links(bt.name))
        c = self.alias()
        text += f" {self.pick(['JOIN', 'LEFT JOIN'])} {self.read(other)} {c} ON {c}.{ocol} = {b}.{col}"
        rels.append((c, TABLE[other]))
        cols = ", ".join(self.projection(al, t)[0] for al, t in rels)
        return f"SELECT {cols} FROM {text}"

    def s_derived(self) -> str:
        t = self.table()
        d = self.alias()
        if self.chance(0.5):
            return f"SELECT {d}.id FROM (SELECT * FROM {self.read(t.name)}) AS {d} WHERE {self.cond(d, t)}"
        inner = self.simple(t, kinds=["int", "int"], named=True)
        return f"SELECT {d}.c1, {d}.c2 FROM ({inner}) AS {d} WHERE {d}.c1 > {self.value(self.rng.randint(0, 5))}"

    def s_cte(self) -> str:
        t = self.table()
        name = self.pick(["mine", "x", "recent"])
        body = self.simple(t, kinds=["int", "text"], named=True)
        tail = f"SELECT {name}.c1, {name}.c2 FROM {name}"
        if self.chance(0.4):
            b = self.alias()
            tail = f"SELECT {name}.c1, {b}.id FROM {name} JOIN {self.read('docs')} {b} ON {b}.id = {name}.c1"
        return f"WITH {name} AS ({body}) {tail}"

    def s_cte_shadow(self) -> str:
        # A CTE named like a table: the statement reads the CTE, not the table.
        shadow = self.table()
        src = self.table()
        a = self.alias()
        return f"WITH {shadow.name} AS (SELECT {a}.id FROM {self.read(src.name)} {a}) SELECT id FROM {shadow.name}"

    def s_cte_capture(self) -> str:
        # A CTE named like the table a policy sub-query reads (team_members in docs' policy).
        a = self.alias()
        body = self.pick(
            [
                "SELECT 1 AS id, 1 AS team_id, 7 AS user_id, 'editor' AS role",
                f"SELECT {a}.id, {a}.team_id, {a}.user_id, {a}.role FROM {self.read('team_members')} {a}",
            ]
        )
        b = self.alias()
        return f"WITH team_members AS ({body}) SELECT {b}.id FROM {self.read('docs')} {b}"

    def s_recursive_num(self) -> str:
        t = self.table()
        a = self.alias()
        n = self.rng.randint(2, 6)
        return (
            f"WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < {n}) "
            f"SELECT r.n, {a}.id FROM r JOIN {self.read(t.name)} {a} ON {a}.id = r.n"
        )

    def s_recursive_table(self) -> str:
        t = self.table()
        a, b = self.alias(), self.alias()
        return (
            f"WITH RECURSIVE r (id, depth) AS (SELECT {a}.id, 0 FROM {self.read(t.name)} {a} WHERE {self.cond(a, t)} "
            f"UNION ALL SELECT {b}.id, r.depth + 1 FROM {t.name} {b} JOIN r ON {b}.id = r.id + 1 WHERE r.depth < 3) "
            "SELECT id, depth FROM r"
        )

    def s_setop(self) -> str:
        op = self.pick(["UNION", "UNION ALL", "INTERSECT", "EXCEPT"])
        self.features.add(op.replace(" ", "_").lower())
        kinds = self.pick([["int"], ["int", "int"], ["int", "text"]])
        return f"{self.simple(kinds=kinds)} {op} {self.simple(kinds=kinds)}"

    def s_agg(self) -> str:
        t = self.table()
        a = self.alias()
        group = self.pick([c for c in t.cols if c.name != "id"])
        ints = t.of_kind("int")
        aggs = ["COUNT(*)", f"{self.pick(['SUM', 'MIN', 'MAX', 'COUNT'])}({a}.{self.pick(ints).name})"]
        if self.chance(0.2):
            aggs.append(f"ROUND(AVG({a}.{self.pick(ints).name}), 1)")
        if self.chance(0.3):
            aggs.append(f"COUNT(DISTINCT {a}.{self.pick(t.cols).name})")
        where = f" WHERE {self.cond(a, t)}" if self.chance(0.5) else ""
        having = (
            f" HAVING COUNT(*) {self.pick(['>', '>=', '='])} {self.value(self.rng.randint(0, 2))}"
            if self.chance(0.4)
            else ""
        )
        return f"SELECT {a}.{group.name}, {', '.join(aggs)} FROM {self.read(t.name)} {a}{where} GROUP BY {a}.{group.name}{having}"

    def s_window(self) -> str:
        t = self.table()
        a = self.alias()
        part = self.pick([c for c in t.cols if c.name != "id"])
        ints = t.of_kind("int")
        fn = self.pick(
            [
                f"ROW_NUMBER() OVER (PARTITION BY {a}.{part.name} ORDER BY {a}.id)",
                f"SUM({a}.{self.pick(ints).name}) OVER (PARTITION BY {a}.{part.name})",
                "COUNT(*) OVER ()",
                f"RANK() OVER (ORDER BY {a}.id DESC)",
            ]
        )
        where = f" WHERE {self.cond(a, t)}" if self.chance(0.5) else ""
        return f"SELECT {a}.id, {fn} AS w FROM {self.read(t.name)} {a}{where}"

    def s_limit(self) -> str:
        t = self.table()
        a = self.alias()
        key = self.pick([c for c in t.cols if not c.nullable])
        order = f"{a}.{key.name} {self.pick(['ASC', 'DESC'])}, {a}.id"
        offset = f" OFFSET {self.rng.randint(0, 3)}" if self.chance(0.4) else ""
        where = f" WHERE {self.cond(a, t)}" if self.chance(0.5) else ""
        return f"SELECT {a}.id, {a}.{key.name} FROM {self.read(t.name)} {a}{where} ORDER BY {order} LIMIT {self.rng.randint(1, 4)}{offset}"

    # -- DML ----------------------------------------------------------------------------

    def dml(self) -> tuple[str | dict[str, str | None], str]:
        shapes = {
            "insert": 4, "insert_select": 2, "update": 4, "update_sub": 2, "update_from": 2, "delete": 3,
            "delete_using": 1, "upsert_nothing": 2, "upsert_update": 2, "upsert_update_where": 1, "with_dml": 1,
            "give_away": 1,
        }  # fmt: skip
        shape = self.rng.choices(list(shapes), list(shapes.values()))[0]
        self.features.add(shape)
        self.shape = shape
        t = self.table(WRITE_WEIGHTS)
        return getattr(self, f"d_{shape}")(t), t.name

    def write(self, table: str, action: str) -> str:
        self.uses.add((table, action))
        return table

    def row_values(self, t: TableDef, new_id: int) -> list[str]:
        out = []
        uid = self.user.id
        for c in t.cols:
            if c.name == "id":
                v: Any = new_id
            elif c.name in ("owner_id", "user_id") and isinstance(uid, int) and self.chance(0.75):
                v = uid
            elif c.name == "author" and uid is not None and self.chance(0.75):
                v = str(uid)
            elif c.name == "org" and self.chance(0.6):
                v = self.user.claims.get("org", "acme")
            elif c.nullable and self.chance(0.2):
                v = None
            else:
                v = self.literal_for(t, c.name)
            out.append(self.value(v))
        return out

    def new_id(self) -> int:
        return self.rng.randint(1, 10) if self.chance(0.2) else self.rng.randint(100, 999)

    def returning(self, dialects: tuple[str, ...] = DIALECTS) -> str:
        if self.chance(0.3):
            self.features.add("returning")
            return " RETURNING id"
        return ""

    def d_insert(self, t: TableDef) -> str:
        cols = ", ".join(c.name for c in t.cols)
        rows = ", ".join(f"({', '.join(self.row_values(t, self.new_id()))})" for _ in range(self.rng.randint(1, 3)))
        ret = self.returning()
        if ret:
            self.uses.add((t.name, "read"))
        return f"INSERT INTO {self.write(t.name, 'create')} ({cols}) VALUES {rows}{ret}"

    def d_insert_select(self, t: TableDef) -> str:
        src = self.table()
        a = self.alias()
        exprs = []
        for c in t.cols:
            if c.name == "id":
                exprs.append(f"{a}.id + {self.rng.choice([100, 200, 0])}")
            else:
                match = [sc for sc in src.cols if sc.kind == c.kind and sc.name == c.name]
                exprs.append(
                    f"{a}.{match[0].name}" if match and self.chance(0.7) else self.row_values(t, 0)[t.cols.index(c)]
                )
        where = f" WHERE {self.cond(a, src)}" if self.chance(0.7) else ""
        cols = ", ".join(c.name for c in t.cols)
        return f"INSERT INTO {self.write(t.name, 'create')} ({cols}) SELECT {', '.join(exprs)} FROM {self.read(src.name)} {a}{where}"

    def assignment(self, t: TableDef, qualify: str = "") -> str:
        c = self.pick([c for c in t.cols if c.name != "id"])
        roll = self.rng.random()
        if c.kind == "int" and roll < 0.4:
            return (
                f"{c.name} = {qualify}{c.name} + {self.rng.randint(1, 3)}"
                if not c.nullable
                else f"{c.name} = COALESCE({qualify}{c.name}, 0) + 1"
            )
        if c.name in ("owner_id", "user_id") and isinstance(self.user.id, int) and roll < 0.65:
            return f"{c.name} = {self.value(self.user.id)}"
        if c.nullable and roll < 0.5:
            return f"{c.name} = NULL"
        v = self.literal_for(t, c.name)
        return f"{c.name} = {self.value(v)}"

    def d_update(self, t: TableDef) -> str | dict[str, str | None]:
        assignments: dict[str, str] = {}
        for _ in range(self.rng.randint(1, 2)):
            text = self.assignment(t)
            assignments.setdefault(text.split(" = ", 1)[0], text)
        if self.chance(0.25):  # column names are case-insensitive unquoted, on all three
            self.features.add("upper_set")
            assignments = {k: v.replace(f"{k} = ", f"{k.upper()} = ", 1) for k, v in assignments.items()}
        where = f" WHERE {self.cond(t.name, t, 1)}" if self.chance(0.8) else ""
        ret = self.returning()
        self.uses.add((t.name, "read"))
        target = self.write(t.name, "update")
        if len(assignments) == 2 and self.chance(0.3):
            # Row assignment: PostgreSQL and SQLite only.
            self.features.add("row_set")
            names = ", ".join(v.split(" = ", 1)[0] for v in assignments.values())
            values = ", ".join(v.split(" = ", 1)[1] for v in assignments.values())
            sql = f"UPDATE {target} SET ({names}) = ({values}){where}{ret}"
            return {"postgres": sql, "mysql": None, "sqlite": sql}
        return f"UPDATE {target} SET {', '.join(assignments.values())}{where}{ret}"

    def d_give_away(self, t: TableDef) -> str:
        """Hand a row to someone else (WITH CHECK must stop it), the owner column spelt
        in either case."""
        t = TABLE[self.pick(["docs", "notes", "team_members"])]
        col = {"docs": "owner_id", "notes": "author", "team_members": "user_id"}[t.name]
        other = self.pick(["u8", "2", "u9"]) if col == "author" else self.rng.randint(1, 8)
        name = col.upper() if self.chance(0.5) else col
        self.uses.update({(t.name, "read"), (t.name, "update")})
        return f"UPDATE {t.name} SET {name} = {self.value(other)} WHERE {t.name}.id = {self.rng.randint(1, 10)}"

    def d_update_sub(self, t: TableDef) -> str:
        c = self.pick([c for c in t.of_kind("int") if c.name != "id"] or t.of_kind("int"))
        src = self.table()
        b = self.alias()
        sub = f"(SELECT {self.pick(['MAX', 'MIN', 'COUNT'])}({b}.id) FROM {self.read(src.name)} {b})"
        where = f" WHERE {self.cond(t.name, t, 0)}"
        self.uses.add((t.name, "read"))
        if c.name == "id":
            return f"UPDATE {self.write(t.name, 'update')} SET {self.assignment(t)}{where}"
        return f"UPDATE {self.write(t.name, 'update')} SET {c.name} = {sub}{where}"

    def d_update_from(self, t: TableDef) -> dict[str, str | None]:
        col, other, ocol = self.pick(_links(t.name))
        b = self.alias()
        o = TABLE[other]
        sets = self.assignment(t, qualify=f"{t.name}.")
        cond = self.cond(b, o, 1)
        self.read(other)
        self.uses.add((t.name, "read"))
        self.write(t.name, "update")
        pg = f"UPDATE {t.name} SET {sets} FROM {other} {b} WHERE {b}.{ocol} = {t.name}.{col} AND {cond}"
        my = f"UPDATE {t.name} JOIN {other} {b} ON {b}.{ocol} = {t.name}.{col} SET {t.name}.{sets} WHERE {cond}"
        return {"postgres": pg, "mysql": my, "sqlite": pg}

    def d_delete(self, t: TableDef) -> str:
        where = f" WHERE {self.cond(t.name, t, 0)}" if self.chance(0.9) else ""
        ret = self.returning()
        self.uses.add((t.name, "read"))
        return f"DELETE FROM {self.write(t.name, 'delete')}{where}{ret}"

    def d_delete_using(self, t: TableDef) -> dict[str, str | None]:
        col, other, ocol = self.pick(_links(t.name))
        b = self.alias()
        cond = self.cond(b, TABLE[other], 1)
        self.read(other)
        self.uses.add((t.name, "read"))
        self.write(t.name, "delete")
        pg = f"DELETE FROM {t.name} USING {other} {b} WHERE {b}.{ocol} = {t.name}.{col} AND {cond}"
        my = f"DELETE {t.name} FROM {t.name} JOIN {other} {b} ON {b}.{ocol} = {t.name}.{col} WHERE {cond}"
        return {"postgres": pg, "mysql": my, "sqlite": None}

    def upsert_rows(self, t: TableDef) -> tuple[str, str]:
        cols = ", ".join(c.name for c in t.cols)
        ids = [self.rng.randint(1, 10) if self.chance(0.6) else self.rng.randint(100, 999)]
        if self.chance(0.3):
            ids.append(self.rng.randint(100, 999))
        rows = ", ".join(f"({', '.join(self.row_values(t, i))})" for i in dict.fromkeys(ids))
        self.write(t.name, "create")
        return cols, rows

    def d_upsert_nothing(self, t: TableDef) -> dict[str, str | None]:
        cols, rows = self.upsert_rows(t)
        pg = f"INSERT INTO {t.name} ({cols}) VALUES {rows} ON CONFLICT (id) DO NOTHING"
        return {"postgres": pg, "mysql": f"INSERT IGNORE INTO {t.name} ({cols}) VALUES {rows}", "sqlite": pg}

    def d_upsert_update(self, t: TableDef, where: bool = False) -> dict[str, str | None]:
        cols, rows = self.upsert_rows(t)
        c = self.pick([c for c in t.cols if c.name != "id"])
        self.write(t.name, "update")
        self.uses.add((t.name, "read"))
        cond = ""
        if where:
            ic = self.pick(t.of_kind("int"))
            cond = f" WHERE {t.name}.{ic.name} {self.pick(['>', '<', '='])} {self.value(self.rng.randint(0, 8))}"
        pg = f"INSERT INTO {t.name} ({cols}) VALUES {rows} ON CONFLICT (id) DO UPDATE SET {c.name} = EXCLUDED.{c.name}{cond}"
        my = (
            None
            if where
            else f"INSERT INTO {t.name} ({cols}) VALUES {rows} ON DUPLICATE KEY UPDATE {c.name} = VALUES({c.name})"
        )
        return {"postgres": pg, "mysql": my, "sqlite": pg}

    def d_upsert_update_where(self, t: TableDef) -> dict[str, str | None]:
        return self.d_upsert_update(t, where=True)

    def d_with_dml(self, t: TableDef) -> str:
        src = self.table()
        a = self.alias()
        cte = f"WITH pick AS (SELECT {a}.id FROM {self.read(src.name)} {a} WHERE {self.cond(a, src, 1)})"
        roll = self.rng.random()
        if roll < 0.25:
            self.features.add("with_insert")
            cols = ", ".join(c.name for c in t.cols)
            values = ", ".join(["pick.id + 500", *self.row_values(t, 0)[1:]])
            return f"{cte} INSERT INTO {self.write(t.name, 'create')} ({cols}) SELECT {values} FROM pick"
        self.uses.add((t.name, "read"))
        if roll < 0.65:
            return f"{cte} UPDATE {self.write(t.name, 'update')} SET {self.assignment(t)} WHERE id IN (SELECT id FROM pick)"
        return f"{cte} DELETE FROM {self.write(t.name, 'delete')} WHERE id IN (SELECT id FROM pick)"

    def s_forward_cte(self) -> str:
        # Under WITH RECURSIVE a CTE may name one defined after it (PostgreSQL, SQLite).
        t = self.table()
        a = self.alias()
        return (
            f"WITH RECURSIVE first_cte AS (SELECT id FROM second_cte), "
            f"second_cte AS (SELECT {a}.id FROM {self.read(t.name)} {a} WHERE {self.cond(a, t)}) SELECT id FROM first_cte"
        )

    def s_lateral(self) -> dict[str, str | None]:
        t = self.table()
        col, other, ocol = self.pick(_links(t.name))
        a, b = self.alias(), self.alias()
        sql = (
            f"SELECT {a}.id, l.n FROM {self.read(t.name)} {a}, LATERAL (SELECT COUNT(*) AS n FROM "
            f"{self.read(other)} {b} WHERE {b}.{ocol} = {a}.{col}) AS l"
        )
        return {"postgres": sql, "mysql": None, "sqlite": None}

    def s_setop_derived(self) -> str:
        op = self.pick(["UNION", "UNION ALL", "INTERSECT", "EXCEPT"])
        inner = f"{self.simple(kinds=['int'], named=True)} {op} {self.simple(kinds=['int'], named=True)}"
        return f"SELECT u.c1, COUNT(*) FROM ({inner}) AS u GROUP BY u.c1"
