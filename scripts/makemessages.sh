#!/usr/bin/env bash
# Refresh the Spanish catalogue of the public pages and emails from the sources, then compile it.
# Needs GNU gettext (apt-get install gettext). The compiled .mo is committed: running the portal
# and its tests needs no gettext. Scope: the civilian-facing code (service_requests without its
# staff admin and API, the portal's settings) and every template except the staff screens.
# tests/service_requests/test_translations.py extracts the same scope and fails on any message
# missing, empty or fuzzy in locale/es.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-uv run --frozen python}"
$PY manage.py makemessages --locale es --domain django --no-location --no-obsolete \
  --extension html,txt,py \
  --ignore '.venv/*' --ignore 'node_modules/*' --ignore 'static/*' --ignore 'staticfiles/*' \
  --ignore 'tests/*' --ignore 'bench/*' --ignore 'docs/*' --ignore 'scripts/*' \
  --ignore 'ledger/*' --ignore 'governance/*' --ignore 'allocations/*' --ignore 'integrations/*' \
  --ignore 'templates/governance/*' --ignore 'templates/allocations/*' --ignore 'templates/admin/*' \
  --ignore 'oversight/*' --ignore 'templates/oversight/*' \
  --ignore 'service_requests/admin/*' --ignore 'service_requests/api.py' \
  --ignore 'exchange/admin/*' --ignore 'exchange/migrations/*' \
  --ignore 'service_requests/migrations/*' --ignore 'service_requests/management/*' \
  --ignore 'hms_portal/*' --ignore 'manage.py'
$PY manage.py compilemessages --locale es --ignore '.venv/*' --ignore 'node_modules/*'
