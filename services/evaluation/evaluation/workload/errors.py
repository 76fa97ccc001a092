"""Problems of workload and list-size uploads and reads (``type`` = ``/problems/<code>``)."""

from __future__ import annotations

from arrs_kit.problems import Conflict, Forbidden, NotFound, ProblemError, Unprocessable


class InvalidRecords(Unprocessable):
    code, title = "invalid-records", "Some records are not valid; none was recorded"


class RecordsOutOfScope(Forbidden):
    code, title = "practice-out-of-scope", "Some records are for practices this client may not post for"


class UploadNotAllowed(Forbidden):
    code, title = "forbidden", "Only practice systems (and admins) post workload and list sizes"


class UnsupportedMediaType(ProblemError):
    status, code, title = 415, "unsupported-media-type", "The body's Content-Type is not one this endpoint reads"


class PracticeNotFound(NotFound):
    code, title = "practice-not-found", "No such practice"


class PracticeCodeRequired(Unprocessable):
    code, title = "practice-code-required", "Name the practice: practice_code is required"


class InvalidRange(Unprocessable):
    code, title = "invalid-range", "from is after to"


class UploadConflict(Conflict):
    code, title = "upload-conflict", "Another upload was writing the same keys; retry"
