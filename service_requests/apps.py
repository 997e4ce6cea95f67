from importlib import import_module

from django.apps import AppConfig


class ServiceRequestsConfig(AppConfig):
    name = "service_requests"
    verbose_name = "Service requests"

    def ready(self) -> None:
        from governance import registry

        from . import services

        registry.register(services.SUBJECT_KIND, services.request_on_decision)
        transfers = import_module("service_requests.transfers")
        registry.register(transfers.SUBJECT_KIND, transfers.participant_transfer_on_decision)
        import_module("service_requests.funding").register()
