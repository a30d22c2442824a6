from django.core.management.base import BaseCommand

from demo import (
    audits,
    away,
    bodymap,
    documents,
    mar,
    opened,
    orders,
    organisation,
    pharmacy,
    prescriptions,
    residents,
    scanning,
    stock,
    training,
)
from demo.organisation import DEFAULT_PASSWORD, LOGINS, DemoContext

# Each subject's demo step, in dependency order (STYLE.md: apps depend one way).
STEPS = (
    organisation,
    training,
    residents,
    prescriptions,
    mar,
    bodymap,
    stock,
    scanning,
    pharmacy,
    away,
    documents,
    opened,
    orders,
    audits,
)


class Command(BaseCommand):
    help = "Create or top up the demo homes, staff and records (R-RUN-4). Safe to run twice."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", help="Password for every demo user.")

    def handle(self, *args, password: str | None = None, **options) -> None:
        if password is not None and len(password) < 8:
            self.stderr.write("The password must be at least 8 characters.")
            raise SystemExit(2)
        ctx = DemoContext(password=password)
        for step in STEPS:
            step.seed(ctx)
            self.stdout.write(f"  demo data: {step.__name__} ready")
        shown = password or DEFAULT_PASSWORD
        note = "" if password or ctx.created_users else ", unless an earlier --password changed it"
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password: {shown}{note}):"))
        for username, what in LOGINS:
            self.stdout.write(f"  {username:<18} {what}")
        self.stdout.write(
            "Managers, admins and inspectors also enter a one-time code (set up at first sign-in;\n"
            "without an authenticator app: python manage.py totp_code USERNAME)."
        )
        self.stdout.write(
            "FHIR API (R-FHIR-4): python manage.py api_token carer   prints a token; then\n"
            "  curl -H 'Authorization: Bearer TOKEN' http://127.0.0.1:8000/fhir/r4/Patient"
        )
        for note in ctx.notes:
            self.stdout.write(note)
