from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The bottom of the house: helpers every app shares, importing none of them."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from core.authn import receivers

        receivers.connect()
