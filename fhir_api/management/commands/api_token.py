from django.core.management.base import BaseCommand, CommandError

from emar.models import User
from fhir_api import services
from medications.models import Pharmacy


class Command(BaseCommand):
    help = (
        "Make an API token acting with USERNAME's roles (R-FHIR-4), or for a supplying "
        "pharmacy (--pharmacy NAME, R-FHIR-5), and print it. Only its hash is stored: copy it "
        "now."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", nargs="?")
        parser.add_argument(
            "--pharmacy",
            help="a pharmacy's name (see manage.py pharmacy): the token may only send "
            "MedicationRequests for residents of the homes it supplies",
        )
        parser.add_argument(
            "--days", type=int, default=services.DEFAULT_TOKEN_DAYS, help="days until it expires"
        )
        parser.add_argument("--label", default="", help="what the token is for")

    def handle(self, *args, **options) -> None:
        if bool(options["username"]) == bool(options["pharmacy"]):
            raise CommandError("Give a USERNAME or --pharmacy NAME (one of them).")
        if options["pharmacy"]:
            pharmacy = Pharmacy.objects.filter(name=options["pharmacy"]).first()
            if pharmacy is None:
                raise CommandError(
                    f"No pharmacy {options['pharmacy']!r}: add it with "
                    "python manage.py pharmacy NAME --home HOME."
                )
            user = pharmacy.account
        else:
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"No user {options['username']!r}.")
        try:
            token, secret = services.api_token_create(
                user=user, days=options["days"], label=options["label"]
            )
        except services.ApiError as e:
            raise CommandError(e.message) from None
        self.stdout.write(secret)
        self.stderr.write(
            f"Token for {user.username}, expires {token.expires_at:%Y-%m-%d}. Use it as "
            "'Authorization: Bearer TOKEN'; it is not shown again."
        )
