"""Statements built once from a model's fields, for the hot paths (the registry webhook, `publish` and the
publisher's tail), where building an ORM query cost more than the database's own work: py-spy showed
`bulk_create` and `filter().values_list()` at two thirds of the time of storing one registry event, and cProfile
showed query compilation at a third of the publisher's time per publication.

Values go through each field's own `get_db_prep_save`, so a JSONField is written as the backend expects;
`ON CONFLICT DO NOTHING` and `RETURNING` are SQL both PostgreSQL and SQLite (3.35 and later) speak.

Each statement is written in the driver's own placeholder style and run on the driver's cursor (`_execute`), inside
Django's error translation: Django's cursor wrappers and its rewriting of `%s` into SQLite's `?` (a regular
expression over the whole statement, each time) were a tenth of the webhook's time per event. So these statements
are not in `connection.queries` when DEBUG is on.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence

from django.db import connection, models
from django.db.backends.utils import CursorWrapper


def insert(cursor: CursorWrapper, model: type[models.Model], columns: Sequence[str], values: Sequence[object], *,
           skip_existing: bool = False) -> object | None:
    """Insert one row and return its id; None when `skip_existing` and a unique column says it is there."""
    ids = insert_many(cursor, model, columns, [values], returning=model._meta.pk.name, skip_existing=skip_existing)
    return ids[0] if ids else None


def insert_many(cursor: CursorWrapper, model: type[models.Model], columns: Sequence[str],
                rows: Sequence[Sequence[object]], *, returning: str = "id", skip_existing: bool = False
                ) -> list[object]:
    """Insert the rows, MANY_ROWS to a statement (one round trip each to PostgreSQL, where a row each made the
    envelopes of distribution 2 wait on twenty of them); the `returning` column of each row inserted, in no
    promised order (ids are given in the rows' order: sort them to match)."""
    inserted: list[object] = []
    for start in range(0, len(rows), MANY_ROWS):
        chunk = rows[start:start + MANY_ROWS]
        sql, json_fields = _statement(connection.vendor, model, tuple(columns), skip_existing, len(chunk), returning)
        _execute(cursor, sql, [value if field is None else field.get_db_prep_save(value, connection)
                               for row in chunk for field, value in zip(json_fields, row, strict=True)])
        inserted += [row[0] for row in cursor.fetchall()]
    return inserted


MANY_ROWS = 100


def existing(cursor: CursorWrapper, model: type[models.Model], column: str, values: Sequence[object]) -> set[object]:
    """Which of these values the unique column holds already."""
    if not values:
        return set()
    quote = connection.ops.quote_name
    name = quote(model._meta.get_field(column).column)
    _execute(cursor, f"SELECT {name} FROM {quote(model._meta.db_table)} WHERE {name} IN "
                     f"({', '.join([_placeholder(connection.vendor)] * len(values))})", list(values))
    return {row[0] for row in cursor.fetchall()}


def after(cursor: CursorWrapper, model: type[models.Model], columns: Sequence[str], key: str, beyond: int,
          limit: int) -> list[tuple[object, ...]]:
    """Up to `limit` rows whose `key` is above `beyond`, in `key` order, each as the values of `columns` (JSON
    decoded)."""
    sql, json_fields = _select(connection.vendor, model, tuple(columns), key, "ASC")
    _execute(cursor, sql, [beyond, limit])
    return [_decoded(row, json_fields) for row in cursor.fetchall()]


def newest(cursor: CursorWrapper, model: type[models.Model], columns: Sequence[str], key: str
           ) -> tuple[object, ...] | None:
    """The values of `columns` in the row with the highest `key`, if any."""
    sql, json_fields = _select(connection.vendor, model, tuple(columns), key, "DESC")
    _execute(cursor, sql, [_LOWEST, 1])
    row = cursor.fetchone()
    return None if row is None else _decoded(row, json_fields)


_LOWEST = -(2**63)


def _decoded(row: Sequence[object], json_fields: Sequence[models.Field | None]) -> tuple[object, ...]:
    return tuple(value if field is None else field.from_db_value(value, None, connection)
                 for field, value in zip(json_fields, row, strict=True))


def _execute(cursor: CursorWrapper, sql: str, params: Sequence[object]) -> None:
    """Run a statement written in the driver's placeholder style on the driver's own cursor."""
    with cursor.db.wrap_database_errors:
        if cursor.db.vendor == "sqlite":
            sqlite3.Cursor.execute(cursor.cursor, sql, params)  # past Django's subclass, which rewrites `%s`
        else:
            cursor.cursor.execute(sql, params)


def _placeholder(vendor: str) -> str:
    return "?" if vendor == "sqlite" else "%s"


@functools.cache
def _select(vendor: str, model: type[models.Model], columns: tuple[str, ...], key: str, order: str
            ) -> tuple[str, tuple[models.Field | None, ...]]:
    quote, mark = connection.ops.quote_name, _placeholder(vendor)
    fields = [model._meta.get_field(name) for name in columns]
    column = quote(model._meta.get_field(key).column)
    return (f"SELECT {', '.join(quote(f.column) for f in fields)} FROM {quote(model._meta.db_table)} "
            f"WHERE {column} > {mark} ORDER BY {column} {order} LIMIT {mark}", _json(fields))


@functools.cache
def _statement(vendor: str, model: type[models.Model], columns: tuple[str, ...], skip_existing: bool, rows: int,
               returning: str) -> tuple[str, tuple[models.Field | None, ...]]:
    """The statement for `rows` rows, and per column the field whose own preparation its value needs (`_json`)."""
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    row = f"({', '.join([_placeholder(vendor)] * len(fields))})"
    return (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([row] * rows)}" + (" ON CONFLICT DO NOTHING" if skip_existing else "")
            + f" RETURNING {quote(model._meta.get_field(returning).column)}", _json(fields))


def _json(fields: Sequence[models.Field]) -> tuple[models.Field | None, ...]:
    """Per column, its field where the value needs the field's own conversion (JSON), else None: plain strings and
    numbers go to and come from the driver as they are."""
    return tuple(f if isinstance(f, models.JSONField) else None for f in fields)
