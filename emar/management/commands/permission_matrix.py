from django.core.management.base import BaseCommand

from emar.permissions import MATRIX, PERM_DESCRIPTIONS, ROLES


class Command(BaseCommand):
    help = "Print the permission matrix (R-ORG-3) as a Markdown table, as in the README."

    def handle(self, *args, **options) -> None:
        header = "| permission | " + " | ".join(ROLES) + " |"
        self.stdout.write(header)
        self.stdout.write("|---|" + "---|" * len(ROLES))
        for perm, roles in MATRIX.items():
            marks = " | ".join("yes" if role in roles else "—" for role in ROLES)
            self.stdout.write(f"| {PERM_DESCRIPTIONS[perm]} (`{perm}`) | {marks} |")
