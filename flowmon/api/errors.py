"""Error responses with messages that name the problem; never a 500 for bad input."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:5]:
        location = '.'.join(str(part) for part in error.get('loc', ()) if part != 'body')
        parts.append(f'{location}: {error.get("msg")}' if location else str(error.get('msg')))
    return '; '.join(parts)


def install_error_handlers(app: FastAPI) -> None:
    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [dict(error) for error in exc.errors()]
        if any(error.get('type') == 'json_invalid' for error in errors):
            return JSONResponse({'detail': 'malformed JSON in the request body'}, status_code=400)
        safe = [{'loc': list(e.get('loc', ())), 'msg': e.get('msg'), 'type': e.get('type')} for e in errors]
        return JSONResponse({'detail': describe_validation(errors), 'errors': safe}, status_code=422)

    app.add_exception_handler(RequestValidationError, validation_error)
