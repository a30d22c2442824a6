from django.core.management.base import BaseCommand, CommandError

from emar.models import User
from fhir_api import services


class Command(BaseCommand):
    help = (
        "Make an API token acting with USERNAME's roles (R-FHIR-4) and print it. Only its hash "
        "is stored: copy it now."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--days", type=int, default=services.DEFAULT_TOKEN_DAYS, help="days until it expires"
        )
        parser.add_argument("--label", default="", help="what the token is for")

    def handle(self, *args, **options) -> None:
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
