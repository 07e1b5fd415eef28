"""The demo's numbers: a ledger of what happened per rubric version, and how it is printed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class VersionTally:
    version: str
    leads: int = 0
    mqls: int = 0
    judged: int = 0
    sqls: int = 0
    won: int = 0
    revenue: float = 0.0

    @property
    def mql_to_sql(self) -> float | None:
        return self.sqls / self.mqls if self.mqls else None

    @property
    def revenue_per_mql(self) -> float | None:
        return self.revenue / self.mqls if self.mqls else None


@dataclass
class Ledger:
    """Per rubric version, in the order the versions became active."""

    tallies: dict[str, VersionTally] = field(default_factory=dict)
    # The currency routing stored the wins in (its configured default: the demo names none).
    currency: str | None = None

    def of(self, version: str) -> VersionTally:
        return self.tallies.setdefault(version, VersionTally(version))

    @property
    def versions(self) -> list[str]:
        return list(self.tallies)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def money(value: float | None, currency: str | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} {currency}" if currency else f"{value:,.0f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    return f"{value / 3600:.1f} h"


def progress_bar(done: float, total: float, width: int = 24) -> str:
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def summary_line(
    *, week: float, weeks: int, leads: int, mqls: int, sqls: int, judged: int, sla: float | None, version: str
) -> str:
    rate = sqls / judged if judged else None
    return (
        f"{progress_bar(week, weeks)} week {min(week, weeks):.1f}/{weeks}  leads {leads}  MQLs {mqls}  "
        f"MQL→SQL {pct(rate)}  SLA met {pct(sla)}  rubric {version}"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def final_report(
    ledger: Ledger, speed_rows: Sequence[dict[str, Any]], sla_rows: Sequence[dict[str, Any]]
) -> str:
    """Before/after per rubric version, then speed to lead and the SLA per tier."""
    rows = [
        [
            t.version,
            str(t.leads),
            str(t.mqls),
            str(t.sqls),
            pct(t.mql_to_sql),
            str(t.won),
            money(t.revenue, ledger.currency),
            money(t.revenue_per_mql, ledger.currency),
        ]
        for t in ledger.tallies.values()
    ]
    parts = [
        "Per rubric version (the version that qualified each MQL):",
        table(["rubric", "leads", "MQLs", "SQLs", "MQL→SQL", "won", "revenue", "revenue/MQL"], rows),
    ]
    versions = [t for t in ledger.tallies.values() if t.mqls]
    if len(versions) >= 2:
        first, last = versions[0], versions[-1]
        change = (last.mql_to_sql or 0) - (first.mql_to_sql or 0)
        parts.append(
            f"\nBefore → after: MQL→SQL {pct(first.mql_to_sql)} ({first.version}) → {pct(last.mql_to_sql)} "
            f"({last.version}), {100 * change:+.1f} points; revenue per MQL "
            f"{money(first.revenue_per_mql, ledger.currency)} → {money(last.revenue_per_mql, ledger.currency)}."
        )
    if speed_rows:
        sla = {r.get("key"): r for r in sla_rows}
        parts.append("\nSpeed to lead per SLA tier (real time; p50 / p95):")
        parts.append(
            table(
                ["tier", "leads", "form → assigned", "assigned → first touch", "SLA met"],
                [
                    [
                        str(r.get("key")),
                        str(r["system"]["n"]),
                        f"{seconds(r['system']['p50_s'])} / {seconds(r['system']['p95_s'])}",
                        f"{seconds(r['human']['p50_s'])} / {seconds(r['human']['p95_s'])}",
                        pct(sla.get(r.get("key"), {}).get("share_met")),
                    ]
                    for r in speed_rows
                ],
            )
        )
    return "\n".join(parts)
