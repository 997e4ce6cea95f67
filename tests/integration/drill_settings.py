"""Settings of the drills' worker processes: the portal's, with the drills' file mail."""

from hms_portal.settings import *  # noqa: F403

EMAIL_BACKEND = "tests.integration.drill_mail.EmailBackend"
