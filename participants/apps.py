from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    """What a participant does with their money: portfolio, transfers, bank details."""

    name = "participants"
    verbose_name = "Participants"
