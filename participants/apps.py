from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    """What a participant does with their money: portfolio, transfers, bank details."""

    name = "participants"
    verbose_name = "Participants"

    def ready(self) -> None:
        from core import events

        from . import services

        events.subscribe_one(
            events.CASE_OUTCOME, services.SUBJECT_KIND, services.participant_transfer_on_decision
        )
