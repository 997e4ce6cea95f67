"""A case's policy as Mermaid flowchart source, with the current step highlighted.

The source is rendered inside `<pre class="mermaid">`: readable as text without the Mermaid
script, drawn as a diagram once the script is on the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.money import display_money as money

from .models import CaseStatus, CaseStepStatus

if TYPE_CHECKING:
    from .models import ApprovalCase, CaseStep

_CLASSES = {
    CaseStepStatus.OPEN: "current",
    CaseStepStatus.APPROVED: "done",
    CaseStepStatus.SKIPPED: "skipped",
    CaseStepStatus.CLOSED: "ended",
    CaseStepStatus.PENDING: "pending",
}


def _label(text: str) -> str:
    """`text` for a Mermaid quoted label, as plain text: the characters that would end the
    label or read as markup become Mermaid entity codes (`#` first, so that a name containing
    one is not taken for a code)."""
    for char, code in (("#", "#35;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(char, code)
    return text.replace("\n", " ")


def case_flowchart(case: ApprovalCase, steps: list[CaseStep]) -> str:
    """`flowchart LR` of the case's steps: done in green, the current one highlighted,
    skipped ones dashed, and the outcome at the end."""
    lines = ["flowchart LR", '  start(["Opened"])']
    previous = "start"
    for case_step in steps:
        step = case_step.step
        node = f"s{case_step.order}"
        details = [step.mode_label, step.who]
        if step.threshold_minor is not None:
            details.append(f"above {money(step.threshold_minor, case.currency or 'USD')}")
        if step.sla_hours:
            details.append(f"{step.sla_hours} h")
        parts = [f"{case_step.order}. {step.name}", " · ".join(details)]
        if case_step.status == CaseStepStatus.OPEN and case_step.required_approvals > 1:
            parts.append(f"{case_step.approvals} of {case_step.required_approvals} approvals")
        lines.append(f'  {node}["{"<br/>".join(_label(part) for part in parts)}"]')
        arrow = "-.->" if case_step.status == CaseStepStatus.SKIPPED else "-->"
        lines.append(f"  {previous} {arrow} {node}")
        previous = node
    end = {
        CaseStatus.APPROVED: "Approved",
        CaseStatus.REJECTED: "Rejected",
        CaseStatus.RETURNED: "Returned to review",
        CaseStatus.RECALLED: "Recalled",
    }.get(CaseStatus(case.status), "Approved")
    lines.append(f'  finish(["{end}"])')
    lines.append(f"  {previous} --> finish")
    lines += [
        "  classDef current fill:#ffbe2e,stroke:#936f38,stroke-width:3px",
        "  classDef done fill:#b8f2be,stroke:#00a91c",
        "  classDef skipped fill:#f0f0f0,stroke:#a9aeb1,stroke-dasharray:4 4,color:#71767a",
        "  classDef ended fill:#f8dfe2,stroke:#b50909",
        "  classDef pending fill:#ffffff,stroke:#565c65",
    ]
    for case_step in steps:
        lines.append(f"  class s{case_step.order} {_CLASSES[CaseStepStatus(case_step.status)]}")
    if case.status in (CaseStatus.APPROVED,):
        lines.append("  class finish done")
    elif case.status in (CaseStatus.REJECTED, CaseStatus.RETURNED, CaseStatus.RECALLED):
        lines.append("  class finish ended")
    return "\n".join(lines)
