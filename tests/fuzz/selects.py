"""SELECT shapes: joins (inner, left, three-way), sub-queries in every clause, CTEs (also
named like tables, recursive, forward references), set operations, aggregates, windows,
ORDER BY/LIMIT/OFFSET, LATERAL."""

from __future__ import annotations

from tests.fuzz.generator import Gen, _links
from tests.fuzz.world import TABLE, TableDef


class SelectShapes(Gen):
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
