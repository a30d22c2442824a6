"""Demo data (R-RUN-4), kept apart from the domain apps: `python manage.py seed_demo`.

One module per subject, seeded in dependency order by the command: organisation (homes, units,
staff), training, residents, prescriptions, mar (dose history, homely remedies, shifts), stock
and audits. Each module's `seed(ctx)` is idempotent and goes only through public names.
"""
