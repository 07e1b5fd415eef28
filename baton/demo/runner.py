"""`baton demo`: a simulated company driving a running Baton through its public APIs.

The simulated clock paces the traffic (weeks of arrivals, office hours, reps' habits); the
services stamp real time on every event, so results are reported per rubric version, which is
what the loop changes. Every few simulated weeks feedback proposes a rubric from the outcomes,
simulated marketing and sales approvers sign it through scoring's lifecycle, and it is
activated, so the rubric changes while traffic flows.
"""

from __future__ import annotations

import heapq
import itertools
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO

import httpx

from baton.demo.agreement import (
    activate,
    attribute,
    configure_forms,
    demo_version_of_starter,
    is_the_demos,
    retune,
    starter_document,
)
from baton.demo.report import Ledger, final_report
from baton.demo.run import DemoConfig, Run
from baton.demo.system import Baton, DemoFailed, private_baton, running_baton
from baton.demo.world import Market, Submission

POLL_QUEUES_EVERY_S = 0.4
SUMMARY_EVERY_S = 1.0


def simulate(config: DemoConfig, baton: Baton, out: TextIO | None = None) -> Ledger:
    """Run the simulation against `baton` and return the per-version ledger."""
    out = out or sys.stdout
    run_id = f"s{config.seed}-{uuid.uuid4().hex[:6]}"
    with httpx.Client(timeout=30) as client:
        run = Run(
            config=config,
            baton=baton,
            client=client,
            out=out,
            run_id=run_id,
            market=Market(config.seed, config.leads_per_week, run_id),
        )
        reps = run.call("GET", "routing", "/v1/reps").json()
        run.reps = {str(r["id"]): str(r["name"]) for r in reps if r.get("active", True)}
        if not run.reps:
            raise DemoFailed("routing has no active reps; `baton up` seeds four (BATON_SEED_DEMO_TEAM=1)")
        configure_forms(run)
        ledger = Ledger()
        current = run.ok(run.call("GET", "scoring", "/v1/rubric"))
        starter = starter_document()
        if config.reset_rubric and current["version"] != starter["version"]:
            activate(run, {**starter, "version": demo_version_of_starter(starter["version"], run_id)})
            run.say(f"re-activated the starter rubric as {run.version} (versions are never reused)")
        else:
            run.version = str(current["version"])
        ledger.of(run.version)
        run.say(
            f"baton demo: {config.weeks} simulated weeks, ~{config.leads_per_week} new leads a week, seed "
            f"{config.seed}, {len(run.reps)} reps; the rubric is re-tuned every {config.retune_every} weeks"
        )
        _loop(run, ledger)
        run.say("traffic stopped; the sales team works the remaining pipeline to a close")
        _epilogue(run)
        attribute(run, ledger)
        speed = run.call("GET", "feedback", "/v1/speed-to-lead", params={"by": "sla_tier"})
        sla = run.call("GET", "feedback", "/v1/sla/first-touch", params={"by": "sla_tier"})
        run.say(
            final_report(
                ledger,
                speed.json().get("rows", []) if speed.status_code == 200 else [],
                sla.json().get("rows", []) if sla.status_code == 200 else [],
            )
        )
        dashboard = f"{baton.urls['feedback']}/#token={baton.tokens['manager']}"
        run.say(f"\nThe dashboard: {dashboard}")
        if run.failures:
            run.say(f"({run.failures} request(s) were refused along the way, e.g.:")
            for sample in run.failure_samples:
                run.say(f"   {sample}")
        return ledger


def _loop(run: Run, ledger: Ledger) -> None:
    config = run.config
    end = config.weeks * 168
    pending: list[tuple[float, int, Submission]] = []
    counter = itertools.count()
    started = time.monotonic()
    last_poll = last_summary = 0.0
    for week in range(config.weeks):
        for submission in run.market.week(week):
            if submission.at_hours < end:
                heapq.heappush(pending, (submission.at_hours, next(counter), submission))
        week_end = (week + 1) * 168
        while run.sim_hours < week_end:
            run.sim_hours = min(run.now_hours(started), week_end)
            while pending and pending[0][0] <= run.sim_hours:
                run.post(heapq.heappop(pending)[2])
            now = time.monotonic()
            if now - last_poll >= POLL_QUEUES_EVERY_S:
                run.poll_queues()
                last_poll = now
            run.work_due(run.sim_hours)
            if now - last_summary >= SUMMARY_EVERY_S:
                if int(now) % 3 == 0:
                    run.refresh_sla()
                run.show()
                last_summary = now
            time.sleep(0.02)
        if not run.out.isatty():
            run.say(run.summary())
        if (week + 1) % config.retune_every == 0 and week + 1 < config.weeks:
            with run.paused():
                # Sales meets at the week's end: the verdicts already due are in before feedback is asked.
                run.poll_queues()
                run.work_due(run.sim_hours)
                _wait_for_feedback(run, timeout_s=10)
                retune(run, week + 1)
                ledger.of(run.version)
    while pending:
        run.post(heapq.heappop(pending)[2])


def _epilogue(run: Run, quiet_s: float = 4.0, timeout_s: float = 120.0) -> None:
    """Let the pipeline settle, then let the reps finish every open assignment."""
    deadline = time.monotonic() + timeout_s
    last_new, known = time.monotonic(), len(run.assignments)
    while time.monotonic() < deadline:
        run.poll_queues()
        run.work_due(float("inf"))
        if len(run.assignments) != known:
            known, last_new = len(run.assignments), time.monotonic()
        elif time.monotonic() - last_new >= quiet_s and not run.due:
            break
        run.refresh_sla()
        run.show()
        time.sleep(0.3)
    _wait_for_feedback(run)
    run.refresh_sla()
    run.say(run.summary())


def _wait_for_feedback(run: Run, timeout_s: float = 30.0) -> None:
    """Feedback folds events asynchronously: wait until its funnel stops moving."""
    previous: Any = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = run.call("GET", "feedback", "/v1/funnel")
        body = response.json() if response.status_code == 200 else None
        if body is not None and body == previous:
            return
        previous = body
        time.sleep(1.0)


def baton_to_drive(config: DemoConfig, say: Callable[[str], None]) -> Baton | None:
    """The Baton running from `config.home`, unless it holds a rubric people signed: the demo
    activates rubrics of its own, so it leaves that one alone and runs a private Baton (None)
    unless told `--against-running`."""
    baton = running_baton(config.home)
    if baton is None:
        return None
    with httpx.Client(timeout=10) as client:
        active = client.get(f"{baton.urls['scoring']}/v1/rubric", headers=baton.headers("manager"))
    if active.status_code != 200:
        raise DemoFailed(f"scoring answered {active.status_code} for the active rubric: {active.text[:300]}")
    version = str(active.json()["version"])
    if is_the_demos(version, str(starter_document()["version"])) or config.against_running:
        say(f"using the Baton running from {config.home} ({baton.urls['feedback']})")
        return baton
    say(
        f"the Baton running from {config.home} holds rubric {version}, which people signed; the demo "
        "activates rubrics of its own, so it leaves that Baton alone and starts a private one "
        "(`baton demo --against-running` drives the running Baton anyway)"
    )
    return None


def run_demo(config: DemoConfig, out: TextIO | None = None) -> int:
    """The `baton demo` command: 0 when the run completed, 1 when Baton refused to play along."""
    out = out or sys.stdout

    def say(message: str) -> None:
        print(f"baton: {message}", file=out, flush=True)

    try:
        baton = baton_to_drive(config, say)
        if baton is not None:
            simulate(config, baton, out)
            return 0
        with private_baton(say) as private:
            simulate(config, private, out)
        return 0
    except DemoFailed as exc:
        say(f"demo failed: {exc}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
