"""One demo run's state and its moves: the HTTP calls, the traffic, the reps' work, the clock.

`runner` drives it week by week; `agreement` signs rubrics through it.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

from baton.demo.report import summary_line
from baton.demo.sales import Step, plan
from baton.demo.system import Baton, DemoFailed
from baton.demo.world import Market, Prospect, Submission

TRANSPORT_ATTEMPTS = 6


@dataclass(frozen=True)
class DemoConfig:
    weeks: int = 8
    seed: int = 1
    speed: float = 4.0
    leads_per_week: int = 120
    retune_every: int = 2
    min_outcomes: int = 30
    home: Path = Path(".baton")
    reset_rubric: bool = True
    # Drive the running Baton even when people signed its active rubric (the demo replaces it).
    against_running: bool = False

    @property
    def sim_hours_per_second(self) -> float:
        """`speed` is simulated weeks per real minute."""
        return self.speed * 168 / 60


@dataclass
class Assignment:
    id: str
    lead_id: str
    rep_id: str
    rep_name: str
    qualified_at: str
    seen_at_hours: float
    steps: list[Step]
    done: int = 0


@dataclass
class Run:
    """The state of one demo run."""

    config: DemoConfig
    baton: Baton
    client: httpx.Client
    out: TextIO
    run_id: str
    market: Market
    reps: dict[str, str] = field(default_factory=dict)
    leads: dict[str, Prospect] = field(default_factory=dict)
    lead_posted_version: dict[str, str] = field(default_factory=dict)
    assignments: dict[str, Assignment] = field(default_factory=dict)
    due: list[tuple[float, int, str]] = field(default_factory=list)
    activations: list[tuple[str, str]] = field(default_factory=list)
    version: str = ""
    currency: str | None = None
    sim_hours: float = 0.0
    sqls: int = 0
    judged: int = 0
    sla_met: float | None = None
    failures: int = 0
    failure_samples: list[str] = field(default_factory=list)
    _clock_offset: float = 0.0
    _tick: Iterator[int] = field(default_factory=itertools.count)

    # --- HTTP -------------------------------------------------------------------------------
    def call(
        self, method: str, service: str, path: str, *, role: str = "manager", **kwargs: Any
    ) -> httpx.Response:
        headers = kwargs.pop("headers", None) or self.baton.headers(role)
        url = self.baton.urls[service] + path
        for attempt in range(TRANSPORT_ATTEMPTS):
            try:
                return self.client.request(method, url, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                # A service restarting under `baton up` drops connections for a moment.
                if attempt == TRANSPORT_ATTEMPTS - 1:
                    raise DemoFailed(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise DemoFailed(
                f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:500]}"
            )
        body: dict[str, Any] = response.json()
        return body

    # --- traffic ----------------------------------------------------------------------------
    def post(self, submission: Submission) -> None:
        response = self.call(
            "POST",
            "ingest",
            f"/v1/forms/{submission.form_id}/submissions",
            headers={"Idempotency-Key": submission.idempotency_key},
            json=submission.body,
        )
        if response.status_code >= 400:
            self.refused(response)
            return
        lead_id = str(response.json()["lead_id"])
        if lead_id not in self.leads:
            self.leads[lead_id] = self.market.prospects[submission.prospect]
            self.lead_posted_version[lead_id] = self.version

    # --- sales ------------------------------------------------------------------------------
    def poll_queues(self) -> None:
        for rep_id, name in self.reps.items():
            token = self.baton.rep_tokens.get(rep_id)
            headers = {"Authorization": f"Bearer {token}"} if token else self.baton.headers("manager")
            response = self.call("GET", "routing", f"/v1/reps/{rep_id}/queue", headers=headers)
            if response.status_code != 200:
                continue
            for item in response.json():
                assignment_id, lead_id = str(item["id"]), str(item["lead_id"])
                if assignment_id in self.assignments or lead_id not in self.leads:
                    continue  # not this run's lead: leave it to whoever owns it
                prospect = self.leads[lead_id]
                # One generator per prospect: the verdict does not depend on the order leads arrive in.
                steps = plan(prospect, name, random.Random(f"{self.config.seed}-{prospect.index}"))
                self.assignments[assignment_id] = Assignment(
                    assignment_id, lead_id, rep_id, name, str(item["qualified_at"]), self.sim_hours, steps
                )
                self._schedule(self.assignments[assignment_id])

    def _schedule(self, assignment: Assignment) -> None:
        if assignment.done < len(assignment.steps):
            at = assignment.seen_at_hours + assignment.steps[assignment.done].after_hours
            heapq.heappush(self.due, (at, next(self._tick), assignment.id))

    def work_due(self, until_hours: float) -> None:
        while self.due and self.due[0][0] <= until_hours:
            _, _, assignment_id = heapq.heappop(self.due)
            assignment = self.assignments[assignment_id]
            self.act(assignment, assignment.steps[assignment.done])
            assignment.done += 1
            self._schedule(assignment)

    def act(self, assignment: Assignment, step: Step) -> None:
        token = self.baton.rep_tokens.get(assignment.rep_id)
        headers = {"Authorization": f"Bearer {token}"} if token else self.baton.headers("manager")
        path = f"/v1/assignments/{assignment.id}"
        if step.action == "touch":
            response = self.call(
                "POST", "routing", f"{path}/touches", headers=headers, json={"channel": "call"}
            )
        else:
            body: dict[str, Any] = {"outcome": step.action}
            if step.reason:
                body["note"] = step.reason
            if step.reason_code:
                body["reason_code"] = step.reason_code
            if step.amount is not None:
                body["amount"] = f"{step.amount:.2f}"
            response = self.call("POST", "routing", f"{path}/disposition", headers=headers, json=body)
            if response.status_code < 400:
                self._count(assignment, step.action)
                if step.amount is not None:
                    # The amount goes without a currency; routing answers the one it stored.
                    self.currency = response.json().get("currency") or self.currency
        if response.status_code >= 400:
            self.refused(response)

    def refused(self, response: httpx.Response) -> None:
        self.failures += 1
        if len(self.failure_samples) < 3:
            request = response.request
            self.failure_samples.append(
                f"{request.method} {request.url.path}: {response.status_code} {response.text[:300]}"
            )

    def _count(self, assignment: Assignment, action: str) -> None:
        # A lead is judged once: rejected, qualified as an SQL, or lost without ever being one.
        if action == "sql":
            self.sqls += 1
        if action in {"sql", "rejected"} or (
            action == "lost" and all(s.action != "sql" for s in assignment.steps)
        ):
            self.judged += 1

    # --- the clock --------------------------------------------------------------------------
    def now_hours(self, started: float) -> float:
        return (time.monotonic() - started - self._clock_offset) * self.config.sim_hours_per_second

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent outside the simulation (re-tuning, waiting) does not move the clock."""
        began = time.monotonic()
        try:
            yield
        finally:
            self._clock_offset += time.monotonic() - began

    # --- reporting --------------------------------------------------------------------------
    def refresh_sla(self) -> None:
        response = self.call("GET", "feedback", "/v1/sla/first-touch")
        if response.status_code == 200 and response.json()["rows"]:
            self.sla_met = response.json()["rows"][0]["share_met"]

    def summary(self) -> str:
        return summary_line(
            week=self.sim_hours / 168,
            weeks=self.config.weeks,
            leads=len(self.leads),
            mqls=len(self.assignments),
            sqls=self.sqls,
            judged=self.judged,
            sla=self.sla_met,
            version=self.version,
        )

    def say(self, message: str) -> None:
        if self.out.isatty():
            self.out.write("\r\033[K")
        self.out.write(message + "\n")
        self.out.flush()

    def show(self) -> None:
        if self.out.isatty():
            self.out.write("\r\033[K" + self.summary())
            self.out.flush()
