from django.apps import AppConfig


class ServiceRequestsConfig(AppConfig):
    name = "service_requests"
    verbose_name = "Service requests"

    def ready(self) -> None:
        from governance import registry

        from . import services

        registry.register(services.SUBJECT_KIND, services.request_on_decision)
