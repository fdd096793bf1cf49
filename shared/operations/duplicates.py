"""Near-duplicates and campaigns: cases whose texts are nearly the same."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shared.models import Case, CaseCluster


def cluster_near_duplicates(session: Session, case: Case) -> CaseCluster | None:
    """Fingerprint a new case and put it in the cluster of its nearest earlier twin, if any."""
    return None
