from typing import Any

from bench.day365 import round_ratios, summary


def turn(fresh_per_s: int, history_per_s: int, *, history_db_cpu_ms: float) -> dict[str, Any]:
    def run(per_s: int, database_cpu_ms: float) -> dict[str, Any]:
        return {"per_s": per_s, "events": 1_000, "process_cpu_ms": 0.1, "database_cpu_ms": database_cpu_ms}

    found = {"fresh": run(fresh_per_s, 0.05), "history": run(history_per_s, history_db_cpu_ms)}
    return {**found, **round_ratios(found)}


class TestRoundRatios:
    def test_a_round_compares_the_history_floor_with_the_fresh_one_of_the_same_round(self) -> None:
        ratios = round_ratios(turn(2_000, 1_500, history_db_cpu_ms=0.1))
        assert ratios["over_fresh"] == 0.75
        assert ratios["process_cpu_over_fresh"] == 1.0
        assert ratios["database_cpu_over_fresh"] == 2.0
        assert ratios["cpu_over_fresh"] == round(0.2 / 0.15, 3)


class TestSummary:
    def test_the_figures_are_medians_of_the_rounds_own_ratios(self) -> None:
        rounds = [
            turn(2_000, 1_800, history_db_cpu_ms=0.05),
            turn(1_000, 1_100, history_db_cpu_ms=0.05),
            turn(3_000, 900, history_db_cpu_ms=0.05),
        ]
        found = summary(rounds)
        assert found["over_fresh"] == 0.9
        assert found["over_fresh_range"] == [0.3, 1.1]
        assert found["fresh_per_s_median"] == 2_000
        assert found["cpu_over_fresh"] == 1.0
