"""How the request admin labels statuses and recognises tracking numbers."""

from __future__ import annotations

import re

from ..models import Status

STATUS_LABELS = {
    Status.SUBMITTED: "info",
    Status.IN_REVIEW: "primary",
    Status.INFO_REQUESTED: "warning",
    Status.PENDING_APPROVAL: "warning",
    Status.APPROVED: "success",
    Status.AWAITING_FUNDS: "warning",
    Status.FUNDED: "success",
    Status.FULFILLED: "success",
    Status.REJECTED: "danger",
    Status.WITHDRAWN: "info",
}

# A whole tracking number, or a prefix of one: searched on the unique index, case-folded.
TRACKING_PREFIX_RE = re.compile(r"^HMS-[0-9]{0,4}(-[0-9]*)?$", re.IGNORECASE)
TRACKING_FULL_RE = re.compile(r"^HMS-[0-9]{4}-[0-9]{6,}$")
