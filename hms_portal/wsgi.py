"""WSGI entry point (gunicorn hms_portal.wsgi).

Marks the process as the web server's before the settings load: only web requests run under
the database's statement timeout (`HMS_DB_STATEMENT_TIMEOUT_MS`).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hms_portal.settings")
os.environ.setdefault("HMS_PROCESS", "web")

application = get_wsgi_application()
