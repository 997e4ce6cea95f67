from django.apps import AppConfig


class AllocationsConfig(AppConfig):
    name = "allocations"
    verbose_name = "Allocations"

    def ready(self) -> None:
        from core import events
        from governance import selectors as governance
        from governance.models import Duty, Holder

        from . import selectors
        from . import tasks as _tasks  # noqa: F401  (the services queue its task by name)
        from .services import rounds

        events.subscribe_one(events.CASE_OUTCOME, rounds.SUBJECT_KIND, rounds.round_on_decision)
        # Separation of duties: a fund's finance officer never decides its rounds' cases.
        governance.register_subject_duty(
            subject_kind=rounds.SUBJECT_KIND,
            duty=Duty.APPROVE_OWN_FUND_ROUND,
            holder=Holder.FINANCE_OFFICER,
            cases=selectors.round_cases_of_fund_officer,
        )
