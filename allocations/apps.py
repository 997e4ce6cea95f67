from django.apps import AppConfig


class AllocationsConfig(AppConfig):
    name = "allocations"
    verbose_name = "Allocations"

    def ready(self) -> None:
        from governance import registry

        from .services import rounds

        registry.register(rounds.SUBJECT_KIND, rounds.round_on_decision)
