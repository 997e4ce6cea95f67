from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = "Exchange rounds"

    def ready(self) -> None:
        from core import events

        from .services import approval

        events.subscribe_one(events.CASE_OUTCOME, approval.SUBJECT_KIND, approval.cycle_on_decision)
