from django.core.management.base import BaseCommand, CommandError

from emar.models import AuditEvent
from emar.services import audit_verify


class Command(BaseCommand):
    help = (
        "Verify every home's audit chain against its key and the checkpoints outside the "
        "database, and the recorded clinical rows against their digests (R-SEC-4, H-9); "
        "non-zero exit naming the first problem."
    )

    def handle(self, *args, **options) -> None:
        problems = audit_verify()
        if problems:
            for problem in problems:
                self.stderr.write(f"BROKEN: {problem}")
            raise CommandError(f"First problem: {problems[0]}")
        self.stdout.write(f"Audit trail intact: {AuditEvent.objects.count()} entries verified.")
