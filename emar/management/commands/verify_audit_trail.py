from django.core.management.base import BaseCommand, CommandError

from emar.models import AuditEvent
from emar.services import audit_verify


class Command(BaseCommand):
    help = "Verify every home's hash-chained audit trail (R-SEC-4); non-zero exit on a break."

    def handle(self, *args, **options) -> None:
        broken = audit_verify()
        if broken:
            for link in broken:
                self.stderr.write(f"BROKEN: {link}")
            raise CommandError(f"First broken link: {broken[0]}")
        self.stdout.write(f"Audit trail intact: {AuditEvent.objects.count()} entries verified.")
