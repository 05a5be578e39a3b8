"""The JSON API under /api/: tickets, incidents, mentions and ticket actions, with its OpenAPI document
at /api/openapi.json (behind login like everything else). Integrations authenticate with
`Authorization: Bearer rw_...`; a logged-in browser may use its session plus the X-CSRF-Token header."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPBearer

from repwatch.web.api import read, reports, write
from repwatch.web.deps import principal

# Declared so the OpenAPI document shows the bearer scheme; `principal` does the actual checking.
bearer = HTTPBearer(auto_error=False, description="an API token from `repwatch token create`")

router = APIRouter(prefix="/api", dependencies=[Security(bearer), Depends(principal)])
router.include_router(read.router)
router.include_router(write.router)
router.include_router(reports.router)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request):
    return request.app.openapi()
