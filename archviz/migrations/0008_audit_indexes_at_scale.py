"""The audit's indexes at a million events (bench/audit_scale.py has the figures before and after):
- a filtered page walks its index newest first; the repository, actor and client address indexes now hold the
  action (and the repository's the actor, the actor's the repository) after `id`, so a second filter is tested in
  the index and only the rows that match are read; with the request method too, the activity reports per
  repository and per actor read their index alone;
- a page of one digest walks `audit_digest_time` instead of sorting every event of that digest;
- "who pulled digest X" reads `audit_pullers` alone: the downloads (pulls that are not existence checks) in the
  report's group order, with every column the report reads (the action and method too: bound as parameters, they
  are tested against the index rather than each row). On PostgreSQL it keeps only the columns of bounded ASCII
  (digest, repository, source, time, action, method): a B-tree entry there holds at most 2,704 bytes, and an
  actor, client address or user agent of multi-byte characters could exceed it, making the event's insert fail
  (and a registry retries a refused event forever). The two databases differ, so it is made here rather than in
  AuditEvent.Meta.
"""

from django.db import migrations, models

PULLERS = ("digest", "repository", "actor", "request_addr", "request_useragent", "source", "time_ns", "action",
           "request_method")
FREE_TEXT = ("actor", "request_addr", "request_useragent")


def create_pullers(apps, schema_editor):
    quote = schema_editor.quote_name
    sqlite = schema_editor.connection.vendor == "sqlite"
    columns = [name for name in PULLERS if sqlite or name not in FREE_TEXT]
    schema_editor.execute(
        f"CREATE INDEX {quote('audit_pullers')} ON {quote('archviz_registry_event')} "
        f"({', '.join(quote(name) for name in columns)}) "
        f"WHERE ({quote('action')} = 'pull' AND NOT ({quote('request_method')} = 'HEAD'))")


def drop_pullers(apps, schema_editor):
    schema_editor.execute(f"DROP INDEX {schema_editor.quote_name('audit_pullers')}")


class Migration(migrations.Migration):

    dependencies = [
        ('archviz', '0007_publication'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_repository_time',
        ),
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_digest',
        ),
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_actor_time',
        ),
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_addr_time',
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['repository', 'time_ns', 'id', 'action', 'actor', 'request_method'], name='audit_repository_time'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['digest', 'time_ns', 'id'], name='audit_digest_time'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['actor', 'time_ns', 'id', 'action', 'repository', 'request_method'], name='audit_actor_time'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['request_addr', 'time_ns', 'id', 'action'], name='audit_addr_time'),
        ),
        migrations.RunPython(create_pullers, drop_pullers),
    ]
