"""RFC 9457 problem details, the only error body any ARRS app answers with.

``type`` is ``/problems/<code>``; the code is stable and machine-readable. Domain code raises
:class:`ProblemError` (or a subclass) and the handlers installed by :func:`install_problem_handlers`
render it, FastAPI's validation errors and Starlette's HTTP errors alike.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from arrs_kit.context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_PREFIX = "/problems/"

log = logging.getLogger("arrs.problems")


class ProblemFieldError(BaseModel):
    """One thing wrong with the request: a field of its body, query, path or headers, or a record of
    an upload (then also its ``line``, and its ``field``, or the ``row`` and ``column`` of a table)."""

    loc: list[str | int] = Field(
        description="Where the error is: `body`, `query`, `path` or `header`, then the field path "
        "(for an upload: `body`, the record's line or row, then the field).",
        examples=[["body", "name"]],
    )
    msg: str = Field(description="What is wrong, in words.", examples=["Input should be greater than or equal to 0"])
    line: int | None = Field(None, description="An upload's line (1-based, a CSV header row included).")
    field: str | None = Field(None, description="The field of an uploaded record.")
    row: int | None = Field(None, description="A table's data row (1-based, the header row not counted).")
    column: str | None = Field(None, description="A table's column; null for the row as a whole.")
    code: str | None = Field(None, description="A stable code for the error, where it has one.")
    detail: str | None = Field(None, description="The error in words (as `msg`).")


class ProblemCheck(BaseModel):
    """One rule a request failed, when a request is checked against several rules at once (or line by
    line): each failed check, the problem's own ``type`` being the first of them."""

    code: str = Field(description="The check's problem code (`/problems/<code>`).", examples=["budget-exceeded"])
    status: int = Field(description="The status that check alone would answer.", examples=[422])
    detail: str | None = Field(None, description="Why it failed.")
    line: int | None = Field(None, description="The index of the body's line that failed it, where it has lines.")


class Problem(BaseModel):
    """An RFC 9457 problem: the body of every error response. A problem may carry more members than
    these (RFC 9457 §3.2 extensions), named by its ``type``: ``reason``, ``upstreams``, ``endpoint``,
    ``lines``, ``conflicts``, OAuth's ``error`` and ``error_description``."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/validation-error",
                    "title": "The request is not valid",
                    "status": 422,
                    "detail": "body.name: String should have at least 1 character",
                    "request_id": "bbb984f339eb4a63bf895f12c29321ea",
                    "errors": [{"loc": ["body", "name"], "msg": "String should have at least 1 character"}],
                }
            ]
        },
    )

    type: str = Field(
        description="`/problems/<code>`; the code is stable and machine-readable.", examples=["/problems/not-found"]
    )
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = Field(None, description="The request's `X-Request-ID`.")
    errors: list[ProblemFieldError] | None = Field(
        None, description="What is wrong with the request, one item per field (or per bad record of an upload)."
    )
    checks: list[ProblemCheck] | None = Field(
        None,
        description="Every check the request failed, where several are checked at once (refused for more than "
        "one reason, the problem's `type` is the first).",
    )


class ProblemError(Exception):
    """An error that knows its HTTP status and problem code."""

    status: int = 400
    code: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or self.title)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


class NotFound(ProblemError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class Unprocessable(ProblemError):
    status, code, title = 422, "validation-error", "The request is not valid"


class Unauthenticated(ProblemError):
    status, code, title = 401, "unauthenticated", "Authentication required"


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "Not allowed"


class PreconditionRequired(ProblemError):
    status, code, title = 428, "precondition-required", "If-Match is required"


class PreconditionFailed(ProblemError):
    status, code, title = 412, "precondition-failed", "The resource has changed"


_CODE_BY_STATUS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    411: "length-required",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}


def code_for_status(status: int) -> str:
    return _CODE_BY_STATUS.get(status, "error")


def problem_body(
    *,
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_PREFIX + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id or current_request_id(),
    }
    if extra:
        body.update(extra)
    return body


def problem_response(
    *,
    status: int,
    code: str,
    title: str | None = None,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> JSONResponse:
    return JSONResponse(
        problem_body(
            status=status, code=code, title=title, detail=detail, instance=instance, extra=extra, request_id=request_id
        ),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _loc(loc: Any) -> list[str | int]:
    return [part if isinstance(part, int) else str(part) for part in loc]


def validation_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        msg = str(err.get("msg", "invalid"))
        out.append({"loc": _loc(err.get("loc", ())), "msg": msg})
    return out


async def _problem_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc.errors())
    first = errors[0] if errors else None
    detail = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}" if first else "Invalid request"
    return problem_response(
        status=422,
        code="validation-error",
        title="The request is not valid",
        detail=detail,
        instance=request.url.path,
        extra={"errors": errors},
    )


def _allowed_methods(request: Request) -> str | None:
    """Every method any route of this path accepts (Starlette names only the first route's)."""
    methods: set[str] = set()

    def visit(routes: Any) -> None:
        for route in routes:
            # FastAPI keeps included routers as wrappers around the original router.
            inner = getattr(route, "original_router", None)
            if inner is not None:
                visit(inner.routes)
            elif isinstance(route, Route) and route.methods:
                match, _ = route.matches(request.scope)
                if match != Match.NONE:
                    methods.update(route.methods)

    visit(getattr(getattr(request.app, "router", None), "routes", []))
    return ", ".join(sorted(methods)) if methods else None


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 405:
        allow = _allowed_methods(request)
        if allow:
            headers = {**(headers or {}), "Allow": allow}
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if detail == HTTPStatus(exc.status_code).phrase:
        detail = None
    return problem_response(
        status=exc.status_code,
        code=code_for_status(exc.status_code),
        detail=detail,
        instance=request.url.path,
        headers=headers,
    )


async def _data_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot store (validation should have refused it first): still the
    # caller's input, so a 422, and the transaction it was in has been rolled back.
    log.warning("database refused a value on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem_response(
        status=422,
        code="validation-error",
        title="The request is not valid",
        detail="A value in the request cannot be stored.",
        instance=request.url.path,
    )


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    # Starlette runs this handler outermost, after the request context middleware has been left (its
    # context variable reset, its response wrapper bypassed): the id is read back from the request's
    # state, and logged, answered and echoed here, so the client's id finds the traceback.
    rid = current_request_id() or getattr(request.state, "request_id", None)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc, extra={"request_id": rid})
    return problem_response(
        status=500,
        code="internal-error",
        title="Internal error",
        detail="The server failed to answer this request; it has been logged with the request id.",
        instance=request.url.path,
        headers={"X-Request-ID": rid} if rid else None,
        request_id=rid,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(DataError, _data_error_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "The request cannot be read.",
    401: "No credentials, or credentials that are not valid.",
    403: "The client may not take this action on what it can see, or the body names something outside its scope.",
    404: "No such resource, or one outside the client's scope: the same answer, so nothing leaks.",
    409: "The request conflicts with the current state of what it acts on (the problem's `type` names how).",
    412: "The `If-Match` sent is not the current ETag: read the resource again.",
    413: "The body is larger than this endpoint accepts.",
    415: "The body's `Content-Type` is not one this endpoint reads.",
    422: "The request is not valid (`errors` lists each problem), or breaks a rule of the domain (the problem's "
    "`type` names it; `checks` lists every check that failed).",
    428: "`If-Match` is required to change this resource.",
    429: "Too many requests: retry after `Retry-After` seconds.",
    503: "A service this request needs is unavailable; nothing was done. Retry after `Retry-After` seconds.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Declare a route's error responses; the OpenAPI builder renders them as problem+json."""
    return {
        status: {"model": Problem, "description": PROBLEM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)}
        for status in statuses
    }
