from importlib import import_module

from django.apps import AppConfig


class ServiceRequestsConfig(AppConfig):
    name = "service_requests"
    verbose_name = "Service requests"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from allocations.models import Fund
        from core import events
        from governance.models import Program

        from . import selectors, services
        from .models import ServiceQuestion, ServiceType

        for model in (ServiceType, ServiceQuestion, Program, Fund):
            for name, signal in (("save", post_save), ("delete", post_delete)):
                signal.connect(
                    selectors.filing_services_changed,
                    sender=model,
                    dispatch_uid=f"service-requests-filing-{model.__name__}-{name}",
                )

        events.subscribe_one(
            events.CASE_OUTCOME, services.SUBJECT_KIND, services.request_on_decision
        )
        transfers = import_module("service_requests.transfers")
        events.subscribe_one(
            events.CASE_OUTCOME, transfers.SUBJECT_KIND, transfers.participant_transfer_on_decision
        )
        import_module("service_requests.funding").register()
