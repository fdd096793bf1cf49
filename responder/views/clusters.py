"""Clusters of near-duplicate cases and campaigns."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from shared.operations import duplicates
from shared.web import current_db

bp = Blueprint("clusters", __name__, url_prefix="/clusters")

PAGE_SIZE = 50


@bp.get("/")
@login_required
def index():
    with current_db().session() as session:
        summaries = duplicates.clusters_for(
            session,
            current_user._get_current_object(),
            limit=PAGE_SIZE,
            before_id=request.args.get("before", type=int),
        )
        return render_template(
            "clusters.html",
            summaries=summaries,
            next_before=summaries[-1].cluster.id if len(summaries) == PAGE_SIZE else None,
        )


@bp.get("/<int:cluster_id>")
@login_required
def show(cluster_id: int):
    with current_db().session() as session:
        cases = duplicates.cluster_cases(session, current_user._get_current_object(), cluster_id)
        if cases is None:
            abort(404)
        return render_template(
            "cluster.html",
            cluster=cases[0].cluster,
            cases=cases,
            label=duplicates.label_for(cases),
        )
