"""Near-duplicates and campaigns: cases whose texts are nearly the same.

A text is compared by its shingles: the character 3-grams of its letters and digits, after
NFKC and casefolding (so full-width ＡＢＣ, half-width ABC and abc are the same) and without
spaces and punctuation. No word segmenter is needed, and a changed name or date changes only
the few shingles around it.

Comparing a new case with every earlier one would not scale, so each case keeps a MinHash
signature of its shingles (32 values, each the least hash of the set under one hash function;
two sets agree on a value with probability equal to their Jaccard similarity), cut into
8 bands of 4 values (LSH). Cases sharing the hash of any band are the candidates: two texts of
similarity 0.7 share a band with probability 1 - (1 - 0.7**4)**8 ≈ 0.89, of 0.8 ≈ 0.99, of
0.3 ≈ 0.06. The candidates are then checked with the exact Jaccard similarity of their shingles.
"""

from __future__ import annotations

import hashlib
import re
import struct
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from shared.models import Case, CaseCluster, CaseFingerprint, CaseStatus, StaffUser
from shared.operations import audit
from shared.operations.access import visible_cases
from shared.search import normalise

SHINGLE_SIZE = 3
#: Fewer shingles than this (a text of under ten letters) is too short to call anything a twin.
MIN_SHINGLES = 8
BANDS = 8
ROWS_PER_BAND = 4
#: The exact Jaccard similarity of shingles from which two texts are the same matter.
THRESHOLD = 0.7
#: Twins are looked for among the cases received this long before the new one.
WINDOW = timedelta(days=180)
#: At most this many candidates are checked, those sharing the most bands first.
MAX_CANDIDATES = 50
#: Long mails are compared by their beginning, as they are indexed for search.
MAX_COMPARED_CHARS = 20_000
LABEL_LENGTH = 30

#: Whatever is not a letter or a digit: spaces, punctuation, symbols.
_NOT_TEXT = re.compile(r"[\W_]+")
#: One SHAKE-128 digest of 128 bytes is the 32 hash values of a shingle: one call, not 32.
_DIGEST_SIZE = 4 * BANDS * ROWS_PER_BAND
_SIGNATURE_ROW = f"<{BANDS * ROWS_PER_BAND}I"
_BAND = struct.Struct(f"<{ROWS_PER_BAND}I")


def shingles(text: str) -> frozenset[str]:
    """The character 3-grams of the text's letters and digits, case and width folded."""
    letters = _NOT_TEXT.sub("", normalise(text[:MAX_COMPARED_CHARS]))
    return frozenset(letters[i : i + SHINGLE_SIZE] for i in range(len(letters) - SHINGLE_SIZE + 1))


def signature(grams: frozenset[str]) -> list[int]:
    """The MinHash signature of a non-empty shingle set: 32 unsigned 32-bit values."""
    digests = b"".join([hashlib.shake_128(gram.encode()).digest(_DIGEST_SIZE) for gram in grams])
    rows = struct.iter_unpack(_SIGNATURE_ROW, digests)
    return [min(column) for column in zip(*rows, strict=True)]


def band_hashes(values: list[int]) -> list[int]:
    """One signed 64-bit hash per band of the signature (it fits a PostgreSQL BIGINT)."""
    starts = range(0, BANDS * ROWS_PER_BAND, ROWS_PER_BAND)
    return [_band_hash(values[start : start + ROWS_PER_BAND]) for start in starts]


def _band_hash(band: list[int]) -> int:
    digest = hashlib.blake2b(_BAND.pack(*band), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    if not first and not second:
        return 0.0
    return len(first & second) / len(first | second)


def fingerprint(text: str) -> tuple[frozenset[str], list[int]] | None:
    """The shingles of a text and its band hashes; None for a text too short to compare."""
    grams = shingles(text)
    if len(grams) < MIN_SHINGLES:
        return None
    return grams, band_hashes(signature(grams))


def cluster_near_duplicates(session: Session, case: Case) -> CaseCluster | None:
    """Fingerprint a new case and put it in the cluster of its nearest earlier twin, if any.

    The case must be flushed (it needs its id). Flushes; never commits.
    """
    printed = fingerprint(case.body)
    if printed is None:
        return None
    grams, bands = printed
    session.add_all(
        CaseFingerprint(case_id=case.id, band=band, hash=value) for band, value in enumerate(bands)
    )
    twin_id, similarity = _nearest_twin(session, case, grams, bands)
    if twin_id is None:
        session.flush()
        return None
    cluster = join_cluster(session, case, session.get_one(Case, twin_id), kind="campaign")
    audit.record(
        session,
        "case.clustered",
        case=case,
        cluster_id=cluster.id,
        similarity=round(similarity, 2),
    )
    return cluster


def _nearest_twin(
    session: Session, case: Case, grams: frozenset[str], bands: list[int]
) -> tuple[int | None, float]:
    shared_bands = (
        select(CaseFingerprint.case_id, func.count().label("bands"))
        .where(
            or_(
                *(
                    and_(CaseFingerprint.band == band, CaseFingerprint.hash == value)
                    for band, value in enumerate(bands)
                )
            )
        )
        .group_by(CaseFingerprint.case_id)
        .subquery()
    )
    candidates = session.execute(
        select(Case.id, Case.body)
        .join(shared_bands, shared_bands.c.case_id == Case.id)
        .where(
            Case.id != case.id,
            Case.received_at >= case.received_at - WINDOW,
            Case.status != CaseStatus.SPAM,
        )
        .order_by(shared_bands.c.bands.desc(), Case.received_at.desc(), Case.id.desc())
        .limit(MAX_CANDIDATES)
    )
    best_id, best = None, 0.0
    for candidate_id, body in candidates:
        similarity = jaccard(grams, shingles(body))
        if similarity >= THRESHOLD and similarity > best:
            best_id, best = candidate_id, similarity
    return best_id, best


def join_cluster(session: Session, case: Case, twin: Case, kind: str) -> CaseCluster:
    """Put ``case`` in ``twin``'s cluster, made of ``kind`` (duplicate or campaign) if twin
    has none; a case in another cluster leaves it. Flushes; never commits."""
    if case.id == twin.id:
        raise ValueError("a case is no twin of itself")
    cluster = twin.cluster
    if cluster is None:
        cluster = CaseCluster(kind=kind, label=_label(twin))
        session.add(cluster)
        twin.cluster = cluster
    case.cluster = cluster
    session.flush()
    return cluster


def _label(case: Case) -> str:
    """The beginning of the earlier case's subject, or of its text, on one line."""
    text = " ".join((case.subject or case.body).split())
    return text if len(text) <= LABEL_LENGTH else text[:LABEL_LENGTH] + "…"


class ClusterSummary(NamedTuple):
    """A line of the clusters list, counted over the cases the user may see, and labelled
    with the first of those (never with a case of an office the user may not see)."""

    cluster: CaseCluster
    count: int
    latest: datetime
    label: str


def label_for(cases: list[Case]) -> str:
    """The label of a cluster for a reader: the beginning of the first case they may see."""
    return _label(cases[0]) if cases else ""


def clusters_for(
    session: Session, user: StaffUser, *, limit: int = 50, before_id: int | None = None
) -> list[ClusterSummary]:
    """Clusters with at least two cases the user may see, the latest received first.

    ``before_id`` is the last cluster of the previous page: the page continues after it.
    """
    visible = visible_cases(user).where(Case.cluster_id.is_not(None)).subquery()
    counted = (
        select(
            visible.c.cluster_id,
            func.count().label("count"),
            func.max(visible.c.received_at).label("latest"),
            func.min(visible.c.id).label("first_id"),
        )
        .group_by(visible.c.cluster_id)
        .having(func.count() >= 2)
        .cte("counted")
    )
    statement = select(CaseCluster, counted.c.count, counted.c.latest, counted.c.first_id).join(
        counted, counted.c.cluster_id == CaseCluster.id
    )
    if before_id is not None:
        after = select(counted.c.latest).where(counted.c.cluster_id == before_id).scalar_subquery()
        statement = statement.where(
            or_(
                counted.c.latest < after,
                and_(counted.c.latest == after, CaseCluster.id < before_id),
            )
        )
    rows = session.execute(
        statement.order_by(counted.c.latest.desc(), CaseCluster.id.desc()).limit(limit)
    ).all()
    firsts = {
        case.id: case
        for case in session.scalars(select(Case).where(Case.id.in_([row[3] for row in rows])))
    }
    return [
        ClusterSummary(cluster, count, latest, _label(firsts[first_id]))
        for cluster, count, latest, first_id in rows
    ]


def cluster_cases(session: Session, user: StaffUser, cluster_id: int) -> list[Case] | None:
    """The cases of the cluster the user may see, oldest first; None when there are none
    (answered as 404, whether the cluster is unknown or only other offices' cases are in it)."""
    cases = session.scalars(
        visible_cases(user)
        .where(Case.cluster_id == cluster_id)
        .options(selectinload(Case.office), selectinload(Case.cluster))
        .order_by(Case.received_at, Case.id)
    ).all()
    return list(cases) or None
