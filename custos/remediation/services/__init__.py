"""Remediation services: the only code that changes tasks, attempts, corrections and samples.

    counts = sync_tasks(run)             # after each check run (signals.py): create, link, close, assign
    record_attempt(task, user, "phone", "13812345678", "reached")
    c = propose_correction(task, user, "mobile", "13912345678", request_no="R1", version=task.version)
    review_correction(c, other_user, approve=True)    # four eyes: proposer ≠ reviewer; applies it
    verify_task(task, cs_user, contact="13912345678", success=True)   # return visit by customer service
    export_corrections(path, encoding="gbk"); acknowledge(path)        # to and from the core systems

One module per concern, every public name re-exported here (`from custos.remediation import
services as svc; svc.sync_tasks(...)`):

    errors       the refusals (RemediationError and its subclasses)
    states       the task state machine, the optimistic lock (version), scope
    sync         findings → tasks and assignment, set-wise SQL
    evidence     evidence files, sealed
    corrections  contact attempts, corrections (four eyes), return visits, closing, sampling
    reminders    reminders and escalation of overdue tasks
    exchange     export of corrections to the core systems, and their acknowledgement
    reading      progress and corrections for pages and the API: scoped, masked, logged
    validation   a correction's new value through the catalogue's checks (the online evaluator)

Every refusal is a RemediationError subclass whose str() is a clear message (gettext). Tasks are
visible to the people whose scope (custos.access) covers the policy; personal data is read only
through the access service. See docs/remediation.md.
"""

from custos.checks.models import Finding
from custos.remediation import conf
from custos.remediation.services.corrections import (
    close_task,
    draw_samples,
    needs_request_no,
    propose_correction,
    proposed_fill,
    record_attempt,
    record_sample,
    review_correction,
    verify_task,
)
from custos.remediation.services.errors import (
    Conflict,
    EvidenceRejected,
    IllegalTransition,
    NotAllowed,
    RemediationError,
    RequestNumberRequired,
    SelfApproval,
)
from custos.remediation.services.evidence import (
    evidence_dir,
    open_evidence,
    store_evidence,
)
from custos.remediation.services.exchange import (
    ACK_COLUMNS,
    CHANGE_COLUMNS,
    acknowledge,
    export_corrections,
)
from custos.remediation.services.reading import (
    commission_holds,
    progress,
    read_corrections,
)
from custos.remediation.services.reminders import (
    email_notices,
    remind,
)
from custos.remediation.services.states import (
    EDITABLE_FIELDS,
    MANAGER_ROLES,
    MAX_VERSION,
    TRANSITIONS,
    BadVersion,
    S,
    check_transition,
    check_version,
    scoped_tasks,
    task_for,
    transition,
)
from custos.remediation.services.sync import (
    SyncCounts,
    assign_tasks,
    invariants,
    reassign,
    sync_tasks,
)
from custos.remediation.services.validation import (
    Objection,
    ValueRefused,
    objections,
)

__all__ = [
    "ACK_COLUMNS",
    "BadVersion",
    "CHANGE_COLUMNS",
    "Conflict",
    "EDITABLE_FIELDS",
    "EvidenceRejected",
    "Finding",
    "IllegalTransition",
    "MANAGER_ROLES",
    "MAX_VERSION",
    "NotAllowed",
    "Objection",
    "RemediationError",
    "RequestNumberRequired",
    "S",
    "SelfApproval",
    "SyncCounts",
    "TRANSITIONS",
    "ValueRefused",
    "acknowledge",
    "assign_tasks",
    "check_transition",
    "check_version",
    "close_task",
    "commission_holds",
    "conf",
    "draw_samples",
    "email_notices",
    "evidence_dir",
    "export_corrections",
    "invariants",
    "needs_request_no",
    "objections",
    "open_evidence",
    "progress",
    "propose_correction",
    "proposed_fill",
    "read_corrections",
    "reassign",
    "record_attempt",
    "record_sample",
    "remind",
    "review_correction",
    "scoped_tasks",
    "store_evidence",
    "sync_tasks",
    "task_for",
    "transition",
    "verify_task",
]
