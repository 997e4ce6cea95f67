from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save
        from django_fsm.signals import post_transition
        from simple_history.signals import (
            post_create_historical_record,
            pre_create_historical_record,
        )

        from governance.models import ApprovalCase
        from ledger.models import ClearingCycle
        from service_requests.models import ServiceRequest

        from . import events, oauth, receivers  # noqa: F401  (oauth registers the schema extension)
        from .models import ApiClient, Subscription

        for model in (Subscription, ApiClient):
            for name, signal in (("save", post_save), ("delete", post_delete)):
                signal.connect(
                    events.subscriptions_changed,
                    sender=model,
                    dispatch_uid=f"integrations-subscribed-types-{model.__name__}-{name}",
                )

        pre_create_historical_record.connect(
            receivers.name_client_in_history, dispatch_uid="integrations-history-client"
        )
        post_create_historical_record.connect(
            receivers.request_submitted,
            sender=ServiceRequest.history.model,
            dispatch_uid="integrations-request-submitted",
        )
        post_transition.connect(
            receivers.request_status_changed,
            sender=ServiceRequest,
            dispatch_uid="integrations-request-status",
        )
        post_create_historical_record.connect(
            receivers.case_decided,
            sender=ApprovalCase.history.model,
            dispatch_uid="integrations-case-decided",
        )
        post_create_historical_record.connect(
            receivers.cycle_settled,
            sender=ClearingCycle.history.model,
            dispatch_uid="integrations-cycle-settled",
        )
