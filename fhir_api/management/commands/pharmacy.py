from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from emar.models import CareHome
from emar.services import DomainError
from medications.services import pharmacy_create


class Command(BaseCommand):
    help = (
        "Add a supplying pharmacy, or link it to more homes (R-RX-12). Its token "
        "(manage.py api_token --pharmacy NAME) may then send MedicationRequests for residents "
        "of those homes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--home", action="append", required=True, help="a home it supplies")
        parser.add_argument("--ods", default="", help="the pharmacy's ODS code")
        parser.add_argument(
            "--email", default="", help="where approved medicines orders are sent (R-ORD-1)"
        )

    def handle(self, *args, **options) -> None:
        homes = []
        for name in options["home"]:
            home = CareHome.objects.filter(name=name).first()
            if home is None:
                raise CommandError(f"No home {name!r}.")
            homes.append(home)
        try:
            pharmacy = pharmacy_create(
                name=options["name"], homes=homes, by=None, ods_code=options["ods"]
            )
        except DomainError as e:
            raise CommandError(e.message) from None
        if options["email"]:
            try:
                validate_email(options["email"])
            except ValidationError:
                raise CommandError(f"{options['email']!r} is not an email address.") from None
            pharmacy.email = options["email"]
            pharmacy.save(update_fields=["email"])
        supplied = ", ".join(pharmacy.homes.order_by("name").values_list("name", flat=True))
        self.stdout.write(f"{pharmacy.name} supplies {supplied}.")
