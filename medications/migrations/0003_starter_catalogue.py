"""Load the starter catalogue (R-RX-1) from medications/data/dmd_starter.csv, plus the common
care-home medicines that file lacks, entered without a dm+d code."""

from django.db import migrations


def load(apps, schema_editor):
    from medications.catalogue import load_starter

    load_starter(apps.get_model("medications", "Medicine"))


class Migration(migrations.Migration):
    dependencies = [("medications", "0002_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
