from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        # The services queue the file's task by name (`core.services.queue`): register it in
        # every process.
        from . import tasks  # noqa: F401
