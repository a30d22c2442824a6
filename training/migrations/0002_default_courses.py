"""The shipped default course list (R-TRN-1). Codes are stable: the gate looks up
"safe_handling" and the DSPT figure "data_security"."""

from django.db import migrations

# code, name, validity in months, mandatory for every member of staff
DEFAULT_COURSES = (
    ("safe_handling", "Safe handling of medicines", 12, True),
    ("controlled_drugs", "Controlled drugs", 12, False),
    ("prn", "PRN (when required) medicines", 24, False),
    ("covert", "Covert administration and the Mental Capacity Act", 24, False),
    ("insulin", "Insulin and injections", 12, False),
    ("eye_ear_drops", "Eye, ear and nose drops", 24, False),
    ("inhalers", "Inhalers and nebulisers", 24, False),
    ("peg", "PEG and enteral tube medicines", 12, False),
    ("topical", "Creams, ointments and patches", 24, False),
    ("data_security", "Data security awareness", 12, True),
)


def add_courses(apps, schema_editor):
    Course = apps.get_model("training", "Course")
    for order, (code, name, months, mandatory) in enumerate(DEFAULT_COURSES, start=1):
        Course.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "validity_months": months,
                "mandatory": mandatory,
                "sort_order": order * 10,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("training", "0001_initial")]

    operations = [migrations.RunPython(add_courses, migrations.RunPython.noop)]
