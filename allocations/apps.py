from django.apps import AppConfig


class AllocationsConfig(AppConfig):
    name = "allocations"
    verbose_name = "Allocations"

    def ready(self) -> None:
        from core import events

        from .services import rounds

        events.subscribe_one(events.CASE_OUTCOME, rounds.SUBJECT_KIND, rounds.round_on_decision)
