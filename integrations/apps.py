from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save
        from simple_history.signals import pre_create_historical_record

        from core import events

        from . import oauth, outbox, receivers, tasks  # noqa: F401  (oauth registers the schema extension)
        from .models import ApiClient, Subscription
        from .services.subscriptions import subscriptions_changed
        from .services.webhooks import deferred

        for model in (Subscription, ApiClient):
            for name, signal in (("save", post_save), ("delete", post_delete)):
                signal.connect(
                    subscriptions_changed,
                    sender=model,
                    dispatch_uid=f"integrations-subscribed-types-{model.__name__}-{name}",
                )
        pre_create_historical_record.connect(
            receivers.name_client_in_history, dispatch_uid="integrations-history-client"
        )
        outbox.deliver_with(tasks.deliver_webhook)

        events.subscribe(events.REQUEST_SUBMITTED, receivers.request_submitted)
        events.subscribe(events.REQUEST_STATUS_CHANGED, receivers.request_status_changed)
        events.subscribe(events.CASE_DECIDED, receivers.case_decided)
        events.subscribe(events.ROUND_COMMITTED, receivers.round_committed)
        events.subscribe(events.TRANSFERS_POSTED, receivers.transfers_written)
        events.subscribe(events.CYCLE_SETTLED, receivers.cycle_settled)
        # A bulk path's facts (`core.events.batch()`): their webhook events written together.
        events.on_batch(deferred)
