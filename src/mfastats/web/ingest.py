"""`POST /ingest/{domain}`: the event-stream webhook of `mfastats ingest`, on `mfastats serve`.

Authenticated by its own token (`--ingest-token` / `MFASTATS_INGEST_TOKEN`), never the admin token, so
an event producer cannot read the report. Bodies are limited in size; one event or a JSON list of
events is accepted and answered `202` with the ingest counts.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from mfastats.dsn import Dsn
from mfastats.ingest.pipeline import Ingestor, StoreSink
from mfastats.store.history import Store

DEFAULT_MAX_BODY_BYTES = 1_000_000


@dataclass(frozen=True)
class IngestEndpoint:
    token: str
    store: Store
    kratos: dict[str, Dsn | None]  # configured domains → their Kratos DSN (tells added from removed)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def add_ingest_route(app: FastAPI, endpoint: IngestEndpoint, error: Callable[..., JSONResponse]) -> None:
    @app.post("/ingest/{domain}", status_code=202, summary="Ingest Kratos events (own token; 202 with counts)")
    async def ingest(domain: str, request: Request) -> JSONResponse:
        if not hmac.compare_digest(_bearer(request).encode(), endpoint.token.encode()):
            return error(401, "ingest token required: send Authorization: Bearer <ingest token>",
                         {"WWW-Authenticate": 'Bearer realm="mfastats-ingest"'})
        if domain not in endpoint.kratos:
            return error(404, f"unknown domain {domain!r}")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > endpoint.max_body_bytes:
            return error(413, f"body larger than {endpoint.max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > endpoint.max_body_bytes:
                return error(413, f"body larger than {endpoint.max_body_bytes} bytes")
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return error(400, "body is not JSON: send one event object or a list of events")

        def run() -> dict[str, object]:
            ingestor = Ingestor(StoreSink(endpoint.store), domain, endpoint.kratos[domain])
            ingestor.add_body(document)
            ingestor.flush()
            return ingestor.counts.as_dict()

        return JSONResponse(await run_in_threadpool(run), status_code=202)
