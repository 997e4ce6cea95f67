"""The drills' worker settings and mail: the portal's settings, with each email written as one
file (`HMS_DRILL_MAIL_DIR`) and each send taking `HMS_DRILL_MAIL_SECONDS`, so a drill can count
what went out, and kill a worker between a send and its commit."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    """Writes each message's Message-ID, recipients and subject to a file of its own."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        folder = Path(os.environ["HMS_DRILL_MAIL_DIR"])
        for message in email_messages:
            record = {
                "message_id": message.message()["Message-ID"],
                "to": list(message.to),
                "subject": str(message.subject),
            }
            (folder / f"{uuid.uuid4().hex}.json").write_text(json.dumps(record))
            time.sleep(float(os.environ.get("HMS_DRILL_MAIL_SECONDS", "0")))
        return len(email_messages)


def sent(folder: Path) -> list[dict[str, Any]]:
    """Every message written to `folder`."""
    return [json.loads(path.read_text()) for path in folder.glob("*.json")]
