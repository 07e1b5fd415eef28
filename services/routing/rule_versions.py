"""The routing rules' lifecycle: immutable versions, drafts, one active version.

Like the scoring rubric, a rule set is stored as a draft under a version that is never reused,
then activated; activation retires the previous version. Until a version is activated, routing
uses the rule set file it was configured with (the packaged default: one pool of every rep).
Transport-free: the caller owns the session and its transaction.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.errors import (
    RuleSetNotDraft,
    RuleSetRejected,
    RuleSetVersionExists,
    RuleSetVersionNotFound,
)
from services.routing.metrics import RULE_FINDINGS
from services.routing.models import RuleSetRecord, audit
from services.routing.repository import LedgerRepository, RepRepository
from services.routing.rule_health import Problem, TeamMember, findings
from services.routing.rule_repository import RuleSetRepository
from services.routing.rules import RepRef, RuleSet, rep_references
from services.routing.schemas import RuleSetFindingRead, RuleSetHealthRead, RuleSetVersionRead
from shared.audit import SYSTEM_ACTOR, record_change
from shared.contracts import utc_now

log = logging.getLogger(__name__)


class ActiveRules:
    """The rule set routing decides with: the active version in the database or, before any
    activation, the rule set file the service was configured with. Created once in the app's
    lifespan (an invalid file stops the service at boot) and handed to whatever decides."""

    def __init__(self, configured: RuleSet) -> None:
        self.configured = configured
        # Versions are immutable, so a parsed document is valid for as long as the process lives.
        self._parsed: dict[str, RuleSet] = {}

    async def current(self, session: AsyncSession) -> RuleSet:
        """The rule set decisions use now: the active version, or the configured file."""
        return await self.of_version(session, await RuleSetRepository(session).active_version())

    async def of_version(self, session: AsyncSession, version: str | None) -> RuleSet:
        """The rule set of the active version read by the caller (None: the configured file)."""
        if version is None:
            return self.configured
        return self._parsed.get(version) or await self._version(session, version)

    async def _version(self, session: AsyncSession, version: str) -> RuleSet:
        if version == self.configured.version:
            return self.configured
        record = await RuleSetRepository(session).get(version)
        if record is None:
            raise RuleSetVersionNotFound(f"no routing rule set version {version!r}")
        rule_set = self._parsed[version] = RuleSet.model_validate(record.document)
        return rule_set


async def create_draft(
    session: AsyncSession,
    *,
    rules: ActiveRules,
    draft: RuleSet,
    problems: Sequence[Mapping[str, Any]] = (),
    author: str,
) -> RuleSetVersionRead:
    """Store a new draft once it has no `problems` (`RuleSet.with_problems`) and every rep it
    names is on the team; otherwise a 422 lists both kinds of error, each with its path."""
    await check_reps_exist(session, draft, problems=problems)
    record = RuleSetRecord(
        version=draft.version,
        status="draft",
        document=draft.model_dump(mode="json"),
        created_by=author,
        created_at=utc_now(),
        activated_at=None,
    )
    if draft.version == rules.configured.version or not await RuleSetRepository(session).add(record):
        raise RuleSetVersionExists(
            f"routing rule set version {draft.version!r} already exists; choose a new version"
        )
    log.info("routing.rule_set_drafted", extra={"version": draft.version})
    await record_change(
        session,
        audit,
        actor=author,
        action="rule_set.drafted",
        object_type="rule_set",
        object_id=draft.version,
        after={"status": "draft", "document": record.document},
    )
    return _read(record, include_document=True)


async def check_reps_exist(
    session: AsyncSession, rule_set: RuleSet, *, problems: Sequence[Mapping[str, Any]] = ()
) -> None:
    """A 422 when a rep the rule set names is not on the team, listing the `problems` already
    found in the document with them."""
    references = rep_references(rule_set)
    refs = [RepRef(text) for _, text in references]
    reps = RepRepository(session)
    by_email = await reps.ids_by_email([r.email for r in refs if r.rep_id is None])
    by_id = await reps.existing_ids([r.rep_id for r in refs if r.rep_id is not None])
    errors: list[dict[str, Any]] = [dict(p) for p in problems] + [
        {"loc": loc, "msg": f"no rep {text!r} on the team", "type": "unknown_rep"}
        for (loc, text), ref in zip(references, refs, strict=True)
        if (ref.rep_id not in by_id if ref.rep_id is not None else ref.email not in by_email)
    ]
    if errors:
        raise RuleSetRejected(f"{len(errors)} error(s) in the rule set", errors=errors)


async def list_versions(session: AsyncSession) -> list[RuleSetVersionRead]:
    return [_read(r, include_document=False) for r in await RuleSetRepository(session).all()]


async def get_version(session: AsyncSession, *, rules: ActiveRules, version: str) -> RuleSetVersionRead:
    record = await RuleSetRepository(session).get(version)
    if record is None:
        configured_set = rules.configured
        if version != configured_set.version:
            raise RuleSetVersionNotFound(f"no routing rule set version {version!r}")
        return RuleSetVersionRead(
            version=version,
            status="configured",
            name=configured_set.name,
            created_by="configuration",
            document=configured_set.model_dump(mode="json"),
        )
    return _read(record, include_document=True)


async def activate(session: AsyncSession, *, version: str, by: str = SYSTEM_ACTOR) -> RuleSetVersionRead:
    """Make a draft the active rule set; the previous one is retired. Leads waiting in a
    fallback queue are tried again under the new rules by the next queue retry."""
    rule_sets = RuleSetRepository(session)
    # Exclusive: no decision runs half under the old rules, half under the new.
    await LedgerRepository(session).enter_pool(exclusive=True)
    record = await rule_sets.get(version, lock=True)
    if record is None:
        raise RuleSetVersionNotFound(f"no routing rule set version {version!r}")
    if record.status != "draft":
        raise RuleSetNotDraft(
            f"routing rule set {version!r} is {record.status}; only a draft can be activated"
        )
    # Reps may have changed since the draft was stored.
    await check_reps_exist(session, RuleSet.model_validate(record.document))
    previous = await rule_sets.retire_active()
    record.status, record.activated_at = "active", utc_now()
    await session.flush()
    log.info("routing.rule_set_activated", extra={"version": version, "previous_version": previous})
    await record_change(
        session,
        audit,
        actor=by,
        action="rule_set.activated",
        object_type="rule_set",
        object_id=version,
        before={"status": "draft", "active_version": previous},
        after={"status": "active", "active_version": version},
    )
    read = _read(record, include_document=False)
    read.previous_version = previous
    return read


async def health(session: AsyncSession, *, rules: ActiveRules, version: str | None) -> RuleSetHealthRead:
    """`version` (None: the one routing uses now) checked against today's team. A check of the
    version in use also sets `baton_routing_rule_findings`, whoever asked (the worker every 10 s)."""
    in_use = await RuleSetRepository(session).active_version() or rules.configured.version
    rule_set = await rules.of_version(session, version or in_use)
    team = [
        TeamMember(rep.id, rep.email, rep.active, rep.paused_reason)
        for rep in await RepRepository(session).all()
    ]
    found = [
        RuleSetFindingRead(loc=f.loc, problem=f.problem, detail=f.detail) for f in findings(rule_set, team)
    ]
    if rule_set.version == in_use:
        counts = Counter(f.problem for f in found)
        for problem in get_args(Problem):
            RULE_FINDINGS.labels(problem).set(counts[problem])
    return RuleSetHealthRead(
        version=rule_set.version, in_use=rule_set.version == in_use, healthy=not found, findings=found
    )


def _read(record: RuleSetRecord, *, include_document: bool) -> RuleSetVersionRead:
    document = record.document
    return RuleSetVersionRead(
        version=record.version,
        status=record.status,
        name=str(document.get("name", "")),
        created_by=record.created_by,
        created_at=record.created_at,
        activated_at=record.activated_at,
        document=document if include_document else None,
    )
