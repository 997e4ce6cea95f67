"""`manage.py verify_ledger`: recompute the hash chain and the balances, check the checkpoints."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.verify import verify_ledger

MSG_SUMMARY = "Checked {transfers} transfers, {accounts} accounts and {checkpoints} checkpoints."
MSG_HEAD = "Head: #{sequence} {hash}"
MSG_OK = "Ledger verified: no changed, removed or reordered transfer."
MSG_MORE = "... and {count} more problem(s)."
ERR_FIRST_BAD = (
    "Ledger verification failed: first bad sequence number #{sequence} ({count} problem(s))."
)
ERR_NO_SEQUENCE = "Ledger verification failed: {count} problem(s), none tied to a transfer."


class Command(BaseCommand):
    help = (
        "Recompute the ledger's hash chain and balances from the postings and check the signed "
        "checkpoints; exit 1 naming the first bad sequence number when anything was changed, "
        "removed or reordered. Prints the head hash."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        """Verify, print the summary, the head and each problem; fail when anything is wrong."""
        report = verify_ledger()
        self.stdout.write(
            MSG_SUMMARY.format(
                transfers=report.transfers_checked,
                accounts=report.accounts_checked,
                checkpoints=report.checkpoints_checked,
            )
        )
        self.stdout.write(MSG_HEAD.format(sequence=report.head_sequence, hash=report.head_hash))
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(str(problem)))
        if report.problem_count > len(report.problems):
            self.stdout.write(MSG_MORE.format(count=report.problem_count - len(report.problems)))
        if report.ok:
            self.stdout.write(self.style.SUCCESS(MSG_OK))
            return
        if report.first_bad_sequence is not None:
            raise CommandError(
                ERR_FIRST_BAD.format(sequence=report.first_bad_sequence, count=report.problem_count)
            )
        raise CommandError(ERR_NO_SEQUENCE.format(count=report.problem_count))
