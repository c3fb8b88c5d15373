# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Count the transactions protected work loses to concurrent ones (contract v3).

Real Odoo seldom makes a request *wait* on a row lock for long: stock moves
take quants with ``FOR NO KEY UPDATE SKIP LOCKED`` and update rows under
REPEATABLE READ, so when an EDI import and a picker touch the same
best-seller, the loser gets a serialization failure, Odoo rolls its
transaction back and retries it after a random sleep of up to 2, 4, 8, 16 s
(``odoo.service.model.retrying``).  ``pg_locks`` shows nothing; the picker
waits all the same.

peak_queue counts the protected work that suffers it (an interactive request,
once however often Odoo retries it; a critical or operational job run) in a
sequence per class: ``nextval`` is not undone by the rollback that follows,
so the count survives the failed transaction it describes.  The governor
reads the totals through ``peak_queue_conflicts()`` (docs/db-contract.md).

Pure stdlib and a DB-API cursor: no ORM, testable without a registry.
"""

import logging
from contextlib import contextmanager

_logger = logging.getLogger(__name__)

#: SQLSTATEs Odoo retries a transaction on (PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
#: serialization_failure, deadlock_detected, lock_not_available.
CONFLICT_CODES = frozenset(("40001", "40P01", "55P03"))
#: The classes of work the governor protects, with their counter.
SEQUENCES = {
    "interactive": "peak_queue_conflicts_interactive",
    "critical": "peak_queue_conflicts_critical",
    "operational": "peak_queue_conflicts_operational",
}


def totals(cr) -> dict[str, int]:
    """Conflicts per protected class since install (``peak_queue_conflicts()``)."""
    cr.execute("SELECT priority_class, conflicts FROM peak_queue_conflicts()")
    return {cls: int(total) for cls, total in cr.fetchall()}


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure Odoo answers by retrying the transaction."""
    return getattr(exc, "pgcode", None) in CONFLICT_CODES


def record(cr, priority_class: str) -> bool:
    """Count one conflict of ``priority_class`` work on ``cr``.

    The failed transaction is rolled back first (its caller rolls it back
    anyway before the retry) so that the counter can be drawn.  Counting must
    never cost the work its retry: any error is logged and swallowed, and the
    caller's own rollback cleans up after it.  Returns whether it counted.
    """
    sequence = SEQUENCES.get(priority_class)
    if sequence is None:
        return False
    try:
        cr.rollback()
        cr.execute("SELECT nextval(%s::regclass)", (sequence,))
        return True
    except Exception:
        _logger.debug("conflict of %s work not counted", priority_class, exc_info=True)
        return False


@contextmanager
def counted(cr, priority_class: str):
    """Run the body; count it if it fails with a conflict, then re-raise."""
    try:
        yield
    except Exception as exc:
        if is_conflict(exc) and priority_class in SEQUENCES:
            record(cr, priority_class)
        raise
