"""An index for run_workers' recovery of abandoned tasks (events.services.tasks_recover): the tasks
running or failed, by when, without scanning every finished task kept in django-tasks-db's table."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS events_task_recovery ON django_tasks_database_dbtaskresult "
            "(status, started_at, finished_at) WHERE status IN ('RUNNING', 'FAILED')",
            "DROP INDEX IF EXISTS events_task_recovery",
        )
    ]
