"""DML shapes: INSERT (multi-row, … SELECT), UPDATE (sub-queries, … FROM, row and
upper-case SET), DELETE (… USING), upserts, RETURNING, WITH … UPDATE/DELETE/INSERT."""

from __future__ import annotations

from typing import Any

from tests.fuzz.generator import DIALECTS, WRITE_WEIGHTS, Gen, _links
from tests.fuzz.world import TABLE, TableDef


class DmlShapes(Gen):
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
