from django.apps import AppConfig


class OversightConfig(AppConfig):
    name = "oversight"
    verbose_name = "Oversight"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tasks in every process)
