"""Installs events_record (events/services.py INSTALL): one event and, when an endpoint listens, its fan-out
task, with the plans of both statements cached for the session."""

from django.db import migrations


def install(apps, schema_editor):
    from events import services

    schema_editor.execute(services.INSTALL)


def uninstall(apps, schema_editor):
    from events import services

    schema_editor.execute(services.UNINSTALL)


class Migration(migrations.Migration):
    dependencies = [("events", "0002_task_recovery_index")]

    operations = [migrations.RunPython(install, uninstall)]
