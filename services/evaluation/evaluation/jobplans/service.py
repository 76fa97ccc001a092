"""Job plans: saved whole, versioned (every replaced version stays readable), started from a template."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arrs_kit.etag import make_etag, require_if_match
from arrs_kit.principal import Principal
from arrs_kit.problems import Conflict, PreconditionFailed
from evaluation.changes import repository as pcn_changes
from evaluation.clients.budget import Post
from evaluation.clients.roles import RolesClient
from evaluation.clock import now_utc
from evaluation.errors import (
    JobPlanExists,
    JobPlanNotFound,
    JobPlanVersionNotFound,
    PracticeNotServed,
    TemplateNotFound,
)
from evaluation.jobplans import repository
from evaluation.jobplans.models import JobPlanVersion
from evaluation.jobplans.schemas import (
    JobPlanBody,
    JobPlanFromTemplate,
    JobPlanPublic,
    Person,
    Question,
    SuggestedKpi,
    Supervision,
)
from evaluation.periods import Frequency


def etag(plan: JobPlanVersion) -> str:
    return make_etag("job-plan", str(plan.post_id), plan.version)


def unanswered(body: JobPlanBody) -> list[Question]:
    """Which of the six questions the plan does not answer yet."""
    missing: list[Question] = []
    if not body.purpose:
        missing.append(Question.PURPOSE)
    if not body.responsibilities or not body.practice_codes:
        missing.append(Question.HOW_IT_WORKS)
    if body.accountable is None:
        missing.append(Question.PEOPLE)
    if not body.expected_outcomes:
        missing.append(Question.OUTCOMES)
    if body.measurement_frequency is None:
        missing.append(Question.MEASUREMENT)
    if body.supervision.supervisor is None or body.supervision.frequency is None:
        missing.append(Question.SUPERVISION)
    return missing


def public(plan: JobPlanVersion) -> JobPlanPublic:
    body = JobPlanBody.model_validate(plan.content)
    missing = unanswered(body)
    return JobPlanPublic(
        **body.model_dump(),
        post_id=plan.post_id,
        pcn_code=plan.pcn_code,
        role_code=plan.role_code,
        version=plan.version,
        complete=not missing,
        unanswered=missing,
        created_at=plan.created_at,
        created_by=plan.created_by,
    )


def get(*, session: Session, post: Post) -> JobPlanVersion:
    plan = repository.current_job_plan(session, post.id)
    if plan is None:
        raise JobPlanNotFound(f"Post {post.id} has no job plan yet: PUT one, or start from the role's template.")
    return plan


def get_version(*, session: Session, post: Post, version: int) -> JobPlanVersion:
    plan = repository.job_plan_version(session, post.id, version)
    if plan is None:
        raise JobPlanVersionNotFound(f"Post {post.id}'s job plan has no version {version}.")
    return plan


def _save(session: Session, post: Post, principal: Principal, body: JobPlanBody, version: int) -> JobPlanVersion:
    outside = sorted(set(body.practice_codes) - set(post.practice_codes))
    if outside:
        raise PracticeNotServed(
            f"The post serves {', '.join(post.practice_codes)}; a job plan cannot add {', '.join(outside)}."
        )
    plan = JobPlanVersion(
        post_id=post.id,
        version=version,
        pcn_code=post.pcn_code,
        role_code=post.role_code,
        content=body.model_dump(mode="json"),
        created_at=now_utc(),
        created_by=principal.actor,
    )
    try:
        repository.add(session, plan)
        pcn_changes.count(session, post.pcn_code)
        session.commit()
    except IntegrityError as exc:  # another writer saved the same version first
        session.rollback()
        raise Conflict("The job plan was changed at the same time; read it again and retry.") from exc
    return plan


def put(
    *, session: Session, post: Post, principal: Principal, body: JobPlanBody, if_match: str | None
) -> tuple[JobPlanVersion, bool]:
    """Save ``body`` as the post's job plan: the first one, or a new version replacing the current
    one (which needs its ETag in ``If-Match``). Answers the plan and whether it was created."""
    current = repository.current_job_plan(session, post.id)
    if current is None:
        if if_match is not None:
            raise PreconditionFailed("The post has no job plan yet: send no If-Match to create it.")
        return _save(session, post, principal, body, 1), True
    require_if_match(if_match, etag(current))
    return _save(session, post, principal, body, current.version + 1), False


def from_template(
    *, session: Session, post: Post, principal: Principal, roles: RolesClient
) -> tuple[JobPlanVersion, list[SuggestedKpi]]:
    """Start the post's job plan from its role's template: purpose, responsibilities, the post's
    practices, its supervisor and the role's supervision frequency; the KPIs are suggested, not made
    (each needs the PCN's own target)."""
    if repository.current_job_plan(session, post.id) is not None:
        raise JobPlanExists(f"Post {post.id} already has a job plan; edit it with PUT and If-Match.")
    template = roles.job_plan_template(post.role_code)
    if template is None:
        raise TemplateNotFound(f"The role {post.role_code} has no job-plan template.")
    suggested = [_suggestion(k) for k in template.get("suggested_kpis") or []]
    frequencies = [s.frequency for s in suggested if s.frequency in ("weekly", "monthly")]
    supervision: dict[str, Any] = template.get("supervision") or {}
    body = JobPlanBody(
        purpose=template.get("purpose"),
        responsibilities=list(template.get("responsibilities") or []),
        practice_codes=list(post.practice_codes),
        expected_outcomes=[s.name for s in suggested],
        measurement_frequency=Frequency(max(set(frequencies), key=frequencies.count)) if frequencies else None,
        supervision=Supervision(
            supervisor=Person(name=post.supervisor_name, role=post.supervisor_role),
            frequency=_supervision_frequency(supervision.get("frequency")),
            arrangement=supervision.get("requirement"),
        ),
    )
    return _save(session, post, principal, body, 1), suggested


def _suggestion(raw: dict[str, Any]) -> SuggestedKpi:
    target = raw.get("suggested_target")
    return SuggestedKpi(
        name=str(raw.get("name", "")),
        unit=str(raw.get("unit", "")),
        direction=str(raw.get("direction", "")),
        frequency=str(raw.get("frequency", "")),
        suggested_target=None if target is None else str(target),
        measure=raw.get("measure"),
    )


def _supervision_frequency(value: Any) -> Any:
    return value if value in ("weekly", "fortnightly", "monthly", "quarterly") else None


def response(plan: JobPlanVersion, suggested: list[SuggestedKpi]) -> JobPlanFromTemplate:
    return JobPlanFromTemplate(job_plan=public(plan), suggested_kpis=suggested)
