"""Every state change of oversight: holidays, breaches of service levels and their emails."""

from .breaches import OUTBOX_BREACH_EMAIL, breach_email_send, breaches_mark
from .calendar import holiday_delete, holiday_save, holidays_seed, target_save

__all__ = [
    "OUTBOX_BREACH_EMAIL",
    "breach_email_send",
    "breaches_mark",
    "holiday_delete",
    "holiday_save",
    "holidays_seed",
    "target_save",
]
