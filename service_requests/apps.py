from importlib import import_module

from django.apps import AppConfig


class ServiceRequestsConfig(AppConfig):
    name = "service_requests"
    verbose_name = "Service requests"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save
        from django_fsm.signals import post_transition

        from allocations.models import Fund
        from core import events
        from governance.models import Program

        from . import receivers, selectors, services, workload
        from .models import AssignmentRule, ServiceQuestion, ServiceRequest, ServiceType

        for model in (ServiceType, ServiceQuestion, AssignmentRule, Program, Fund):
            for name, signal in (("save", post_save), ("delete", post_delete)):
                signal.connect(
                    selectors.filing_services_changed,
                    sender=model,
                    dispatch_uid=f"service-requests-filing-{model.__name__}-{name}",
                )
        post_transition.connect(
            receivers.request_status_changed,
            sender=ServiceRequest,
            dispatch_uid="service-requests-status-changed",
        )

        events.subscribe_one(
            events.CASE_OUTCOME, services.SUBJECT_KIND, services.request_on_decision
        )
        events.subscribe(events.CLAIMS_GRANTED, services.requests_on_claims_granted)
        events.subscribe_one(
            events.CASE_SUBJECT_DETAILS, services.SUBJECT_KIND, workload.case_subject_details
        )
        # The services enqueue the outbox's tasks by name: register them in every process.
        import_module("service_requests.tasks")
