"""Empty the test tables between tests, as `truncate ... restart identity cascade` of
every table would, at a fraction of its cost.

TRUNCATE gives each table (and each of its indexes) a new file, and the old ones go at
commit: for every table, whether a test wrote to it or not, that cost most of the
suite's time. A test writes to a few tables, so only the tables that hold a row are
truncated (still with `cascade`, over every table that references them), and every
sequence the full truncate would restart is set back to its start instead (setval
does not make a new file). The state a test starts from is the same: every table that
the full truncate empties is empty, every sequence it restarts starts again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

# Every table that `truncate <tables> cascade` reaches: the tables, and recursively
# each table with a foreign key to one of them (in an existing deployment, its own).
_REACHED = """
with recursive reached(oid) as (
    select unnest(%s::regclass[])::oid
    union
    select c.conrelid from pg_constraint c join reached r on c.confrelid = r.oid
    where c.contype = 'f'
)
select r.oid::regclass::text from reached r
"""

# The sequences a truncate with `restart identity` restarts: those owned by a column
# of a reached table (serial and identity columns alike).
_OWNED_SEQUENCES = """
select d.objid::regclass::text
from pg_depend d join pg_class s on s.oid = d.objid and s.relkind = 'S'
where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
  and d.refobjid = any(%s::regclass[]) and d.deptype in ('a', 'i')
"""


@dataclass(frozen=True)
class Emptier:
    """What one database's full truncate reaches, read once, and how to undo a test."""

    tables: tuple[str, ...]
    sequences: tuple[str, ...]

    @classmethod
    def read(cls, conn: psycopg.Connection[Any], tables: Iterable[str]) -> Emptier:
        reached = [row[0] for row in conn.execute(_REACHED, (list(tables),))]
        owned = [row[0] for row in conn.execute(_OWNED_SEQUENCES, (reached,))]
        return cls(tuple(reached), tuple(owned))

    def empty(self, conn: psycopg.Connection[Any]) -> None:
        """Truncate the tables that hold a row, restart the sequences that were used."""
        holding = _holding_rows(conn, self.tables)
        if holding:
            names = sql.SQL(", ").join(map(sql.SQL, holding))
            conn.execute(sql.SQL("truncate {} restart identity cascade").format(names))
        if self.sequences:
            conn.execute(
                "select setval(seqrelid, seqstart, false) from pg_sequence"
                " where seqrelid = any(%s::regclass[])"
                " and pg_sequence_last_value(seqrelid) is not null",
                (list(self.sequences),),
            )


def _holding_rows(conn: psycopg.Connection[Any], tables: Sequence[str]) -> list[str]:
    # The names come from the catalog as regclass text: already quoted where needed.
    probes = sql.SQL(" union all ").join(
        sql.SQL("select {} where exists (select from {})").format(sql.Literal(t), sql.SQL(t))
        for t in tables
    )
    return [row[0] for row in conn.execute(probes)]
