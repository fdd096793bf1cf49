"""What each figure of the monthly report counts, in words: the report carries them as
``definitions`` (every key of the report has one), and every format shows them."""

from __future__ import annotations

from shared.reports.words import MAX_WORD_CHARS, MAX_WORD_TEXTS

DEFINITIONS: dict[str, str] = {
    "month": (
        "The Asia/Shanghai calendar month reported, from its first day 00:00 to the next "
        "month's first day 00:00 (+08:00)."
    ),
    "received": (
        "Cases received in the month (by their time of receipt), not counting those marked as spam."
    ),
    "by_channel": (
        "Cases received in the month by the channel they came through (web form, API, email, "
        "phone, letter, visit)."
    ),
    "by_office": (
        "Per office that has the case now: received, first answered and on time in the month,"
        " overdue open at month end, its rates and its rank."
    ),
    "by_item": (
        "Cases received in the month per notice item they refer to; cases that name no item "
        "are not listed."
    ),
    "replied": (
        "Cases whose first answer (an answer reply, not an acceptance or extension notice) "
        "was sent in the month."
    ),
    "on_time_rate": (
        "Of the cases first answered in the month, the share answered on or before their "
        "answer deadline (extension included); null when none."
    ),
    "median_reply_days": (
        "Median of the days from receipt to first answer, over the cases first answered in "
        "the month."
    ),
    "overdue_open": (
        "Cases received before month end that were neither answered nor closed at month end "
        "(a case reopened and not answered again counts as open) and whose answer deadline "
        "had passed."
    ),
    "satisfaction_rate": (
        "Of the ratings given in the month, the share that are satisfied or basically "
        "satisfied; null when none."
    ),
    "scope": (
        "The offices the report is limited to (null: the whole department); every figure "
        "counts only the cases those offices have."
    ),
    "generated_at": "When the report was generated (Asia/Shanghai).",
    "period": "The month as an instant range: start included, end excluded.",
    "spam": (
        "Cases received in the month that are marked as spam; they are left out of every "
        "other figure."
    ),
    "duplicates": (
        "Cases received in the month (spam excluded) marked as repeating an earlier case; "
        "they are included in received."
    ),
    "by_category": (
        "Cases received in the month by the category the citizen chose; none when no category"
        " was given."
    ),
    "items": "Title, area and notice of each item listed in by_item.",
    "status_at_month_end": (
        "The month's cases (received in the month, spam excluded) by where they stood at month "
        "end: closed (closed or refused), answered (answered, not closed, not reopened since), "
        "in progress (open and accepted, or reopened for re-handling), waiting (open, not yet "
        "accepted or answered)."
    ),
    "backlog": (
        "Cases received before month end, in this month or any earlier one, that were open "
        "(neither answered nor closed, or reopened and not answered again) at month end."
    ),
    "on_time": (
        "Cases first answered in the month on or before their deadline; for a case reopened "
        "later, the deadline it had when first answered."
    ),
    "mean_reply_days": (
        "Mean of the days from receipt to first answer, over the cases first answered in the month."
    ),
    "median_close_days": (
        "Median of the days from receipt to closing, over the cases closed in the month."
    ),
    "mean_close_days": (
        "Mean of the days from receipt to closing, over the cases closed in the month."
    ),
    "closed": (
        "Cases closed in the month: closed after a rating or without one, closed by staff, or"
        " refused."
    ),
    "completed_on_time_rate": (
        "Of the cases closed in the month, the share whose last answer (or, never answered, "
        "the closing) came on or before their deadline; null when none."
    ),
    "ratings": "The ratings given in the month, by value.",
    "reopened": "Cases reopened for re-handling in the month after an unsatisfied rating.",
    "extended": "Extensions of the answer deadline approved in the month.",
    "ranking": (
        "Offices best first: by on-time rate, then satisfaction rate, then fewest overdue "
        "open, then most answered; offices without a rate come after those with one."
    ),
    "change": (
        "Each headline figure against the previous month and the same month a year before: "
        "for counts the ratio (value / earlier - 1), for rates the difference; null when "
        "there is nothing to compare. An earlier month whose report was archived is taken "
        "as reported then."
    ),
    "daily": "Cases received and cases first answered on each Asia/Shanghai day of the month.",
    "top_words": (
        "The most frequent words of the month's case texts (subject and text, segmented with "
        "jieba, common words, single characters and numbers left out)."
    ),
    "words_from": (
        f"How many of the month's case texts were segmented (at most {MAX_WORD_TEXTS}, spread "
        f"evenly over the month, each up to {MAX_WORD_CHARS} characters) of how many."
    ),
    "clusters": (
        "Groups of repeated or near-identical cases with at least two cases received in the "
        "month, the largest first (at most 20)."
    ),
    "overdue_cases": (
        "The cases counted in overdue_open, most overdue first; days overdue are whole or "
        "part days from the deadline to month end; status is waiting or in_progress at month "
        "end."
    ),
}
