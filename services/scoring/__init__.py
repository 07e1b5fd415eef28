"""Scoring service: scores every lead against the rubric marketing and sales both signed.

Consumes `lead.ingested` (and `lead.dispositioned`, for backtests); emits `lead.scored` on every
score and `lead.qualified` once per lead. The rubric language is in `conditions.py` and
`rubric.py`, its evaluation in `evaluation.py`, the agreement's lifecycle (drafts, approvals,
activation, re-scoring, shadow) in `agreement.py`, backtests and diffs in `backtest.py`.
"""
