"""The shipped checklist question set (R-AUD-2)."""

from django.db import migrations

from audits.checklist import DEFAULT_QUESTIONS


def load(apps, schema_editor):
    Question = apps.get_model("audits", "ChecklistQuestion")
    for order, (code, section, text) in enumerate(DEFAULT_QUESTIONS, start=1):
        Question.objects.update_or_create(
            code=code, defaults={"section": section, "text": text, "sort_order": order * 10}
        )


def unload(apps, schema_editor):
    Question = apps.get_model("audits", "ChecklistQuestion")
    Question.objects.filter(code__in=[c for c, _, _ in DEFAULT_QUESTIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [("audits", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
