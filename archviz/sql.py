"""Single-row INSERT statements built once from a model's fields, for the two hot write paths (the registry
webhook and `publish`), where building an ORM query cost more than the database's own work: py-spy showed
`bulk_create` and `filter().values_list()` at two thirds of the time of storing one registry event.

Values go through each field's own `get_db_prep_save`, so a JSONField is written as the backend expects;
`ON CONFLICT DO NOTHING` and `RETURNING` are SQL both PostgreSQL and SQLite (3.35 and later) speak.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connection, models
from django.db.backends.utils import CursorWrapper


def insert(cursor: CursorWrapper, model: type[models.Model], columns: Sequence[str], values: Sequence[object], *,
           skip_existing: bool = False) -> int | None:
    """Insert one row and return its id; None when `skip_existing` and a unique column says it is there."""
    sql, json_fields = _statement(model, tuple(columns), skip_existing)
    cursor.execute(sql, [value if field is None else field.get_db_prep_save(value, connection)
                         for field, value in zip(json_fields, values, strict=True)])
    row = cursor.fetchone()
    return None if row is None else row[0]


def existing(cursor: CursorWrapper, model: type[models.Model], column: str, values: Sequence[object]) -> set[object]:
    """Which of these values the unique column holds already."""
    if not values:
        return set()
    quote = connection.ops.quote_name
    name = quote(model._meta.get_field(column).column)
    cursor.execute(f"SELECT {name} FROM {quote(model._meta.db_table)} WHERE {name} IN "
                   f"({', '.join(['%s'] * len(values))})", list(values))
    return {row[0] for row in cursor.fetchall()}


@functools.cache
def _statement(model: type[models.Model], columns: tuple[str, ...], skip_existing: bool
               ) -> tuple[str, tuple[models.Field | None, ...]]:
    """The statement, and per column the field whose own preparation its value needs (JSON), else None: plain
    strings and numbers go to the driver as they are."""
    quote = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in columns]
    return (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})" + (" ON CONFLICT DO NOTHING" if skip_existing else "")
            + f" RETURNING {quote(model._meta.pk.column)}",
            tuple(f if isinstance(f, models.JSONField) else None for f in fields))
