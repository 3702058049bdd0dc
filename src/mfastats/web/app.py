"""The FastAPI application: analytics page, JSON API, OpenAPI, `/metrics` and `/healthz`.

Built by `create_app(store, token=...)` with explicit arguments; every response comes from the
`ReportStore` (no request reads a database). Access is admin-only:

* every path except `/healthz`, the login page and its stylesheet needs the token, as
  `Authorization: Bearer <token>` or the session cookie set by the login form (`POST /login`);
  `/metrics` too unless `metrics_open=True`;
* without it the answer is `401 {"error": ...}`, except that a browser opening a page (GET accepting
  text/html) is sent to `/login` instead;
* the session cookie is HttpOnly, SameSite=Strict (Secure over https) and holds an expiry plus an HMAC
  keyed by the token, never the token itself; changing the token logs everyone out;
* tokens and cookies are compared with `hmac.compare_digest`.

Every error has one JSON shape: `{"error": "message"}`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from mfastats import __version__
from mfastats.outputs.prometheus import StoredReportSource, exposition, private_registry
from mfastats.web import views
from mfastats.web.ingest import IngestEndpoint, add_ingest_route
from mfastats.web.state import ReportStore, StoredReport

HERE = Path(__file__).parent
COOKIE = "mfastats_session"
SESSION_SECONDS = 12 * 3600
PUBLIC_PATHS = frozenset({"/healthz", "/login", "/static/style.css"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
STATIC_FILES = {"style.css": "text/css", "charts.js": "text/javascript"}


def plotly_js_path() -> Path:
    """plotly.min.js from the installed plotly package: served by the app, never from a CDN."""
    return Path(str(files("plotly") / "package_data" / "plotly.min.js"))


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class Auth:
    """The admin token, and the session cookie derived from it."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("create_app needs a non-empty token: the page is never open")
        self._token = token.encode()

    def token_ok(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    def _mac(self, expires: int) -> str:
        return hmac.new(self._token, f"mfastats-session:{expires}".encode(), hashlib.sha256).hexdigest()

    def new_cookie(self) -> str:
        expires = int(time.time()) + SESSION_SECONDS
        return f"{expires}.{self._mac(expires)}"

    def cookie_ok(self, value: str) -> bool:
        expires_text, _, mac = value.partition(".")
        if not expires_text.isdigit() or int(expires_text) < time.time():
            return False
        return hmac.compare_digest(mac.encode(), self._mac(int(expires_text)).encode())

    def allows(self, request: Request) -> bool:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials and self.token_ok(credentials.strip()):
            return True
        cookie = request.cookies.get(COOKIE)
        return bool(cookie) and self.cookie_ok(cookie)


def _age_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class Guard:
    """Pure ASGI middleware: authentication, security headers and `Cache-Control` on every response.

    Written against ASGI directly, not `@app.middleware("http")`, because Starlette's BaseHTTPMiddleware
    costs about a third of the throughput of `/api/report` (measured with bench/run.py --wrk)."""

    def __init__(self, app: Any, allowed: Callable[[Request], bool]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if not path.startswith("/static/"):
                    headers["Cache-Control"] = "no-store"
            await send(message)

        request = Request(scope)
        if self.allowed(request):
            await self.app(scope, receive, send_with_headers)
            return
        if request.method == "GET" and "text/html" in request.headers.get("accept", "") \
                and not path.startswith(("/api/", "/static/")) and path not in ("/metrics", "/openapi.json"):
            response: Response = RedirectResponse(f"/login?next={quote(path)}", status_code=303)
        else:
            response = error(401, "authentication required: send Authorization: Bearer <token> or log in at /login",
                             {"WWW-Authenticate": 'Bearer realm="mfastats"'})
        await response(scope, receive, send_with_headers)


def create_app(store: ReportStore, *, token: str, metrics_open: bool = False,
               ingest: IngestEndpoint | None = None) -> FastAPI:
    """The web application over `store`; `token` is required (the page is never open).

    With `ingest`, `POST /ingest/{domain}` accepts events under its own token (see `web.ingest`)."""
    auth = Auth(token)
    app = FastAPI(title="mfastats", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="MFA metrics of Ory Kratos domains, from the report mfastats keeps in memory. "
                              "Send `Authorization: Bearer <token>`.")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["num"] = _number
    templates.env.filters["age"] = _age_text
    public = PUBLIC_PATHS | ({"/metrics"} if metrics_open else frozenset())
    registry = private_registry(StoredReportSource(
        document=lambda: store.latest.document if store.latest else None,
        refreshed_at=lambda: store.latest.refreshed_at if store.latest else None,
        refresh_failed=lambda: store.error is not None,
        now=store.clock,
    ))

    def allowed(request: Request) -> bool:
        path = request.url.path
        return path in public or auth.allows(request) or (ingest is not None and path.startswith("/ingest/"))

    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(Guard, allowed=allowed)  # outermost: its headers go on every answer

    if ingest is not None:
        add_ingest_route(app, ingest, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error(422, f"invalid request: {problems}")

    def stored_or_503() -> StoredReport | JSONResponse:
        return store.latest or error(503, "no report computed yet: " + (store.error.message if store.error else
                                                                          "the first refresh is running"))

    def status() -> dict[str, Any]:
        latest, failure = store.latest, store.error
        return {
            "refreshed_at": _iso(latest.refreshed_at) if latest else None,
            "age_seconds": store.age_seconds(),
            "refresh_seconds": store.refresh_seconds,
            "as_of": latest.document["as_of"] if latest else None,
            "refresh_error": {"message": failure.message, "at": _iso(failure.at),
                              "age_seconds": max(0.0, (store.clock() - failure.at).total_seconds())}
            if failure else None,
            "domains": [{"name": b["name"], "status": b["status"], "error": b["error"]}
                        for b in latest.document["domains"]] if latest else [],
        }

    # Public ------------------------------------------------------------------------------------
    @app.get("/healthz", summary="Liveness (no auth, no data)")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_page(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002 - the query name
        return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "failed": False})

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:  # noqa: A002
        if not auth.token_ok(token):
            return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next), "failed": True},
                                              status_code=401)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(COOKIE, auth.new_cookie(), max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # Static ------------------------------------------------------------------------------------
    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return FileResponse(plotly_js_path(), media_type="text/javascript",
                            headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in STATIC_FILES:
            return error(404, f"no static file {name!r}")
        return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name],
                            headers={"Cache-Control": "private, max-age=300"})

    # JSON API ----------------------------------------------------------------------------------
    @app.get("/api/report", summary="The whole report (SPEC 6.1 document)",
             description="The same bytes `mfastats report --format json` prints for the stored report.")
    async def api_report() -> Response:  # async: no threadpool hop for bytes already in memory
        stored = stored_or_503()
        if isinstance(stored, JSONResponse):
            return stored
        return Response(stored.json_bytes, media_type="application/json", headers=_age_headers(store, stored))

    def page_data(domain: str | None) -> tuple[StoredReport, dict[str, Any]] | JSONResponse:
        """The one data function behind each page and its JSON twin (503 before a report, 404 for a name)."""
        stored = stored_or_503()
        if isinstance(stored, JSONResponse):
            return stored
        try:
            return stored, views.page_data(stored, domain)
        except views.NotFound as exc:
            return error(404, str(exc))

    @app.get("/api/report/{domain}", summary="One domain's block of the report")
    def api_domain(domain: str) -> Response:
        found = page_data(domain)
        if isinstance(found, JSONResponse):
            return found
        stored, block = found
        return JSONResponse(block, headers=_age_headers(store, stored))

    @app.get("/api/status", summary="Refresh state: when the stored report was computed, and the last error")
    def api_status() -> dict[str, Any]:
        return status()

    @app.get("/metrics", summary="Prometheus exposition of the stored report", response_class=Response)
    def metrics() -> Response:
        return Response(exposition(registry), media_type="text/plain; version=0.0.4; charset=utf-8")

    # Pages -------------------------------------------------------------------------------------
    def render(request: Request, domain: str | None) -> Response:
        found = page_data(domain)
        if isinstance(found, JSONResponse):
            return found
        stored, data = found
        document = stored.document if domain is not None else data
        view = views.present(document, domain)
        return templates.TemplateResponse(request, "page.html", {
            "view": view, "status": status(), "domains": stored.domain_names, "document": document,
            "as_of": stored.document["as_of"], "timezone": stored.document["timezone"],
            "version": __version__,
        })

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def all_domains_page(request: Request) -> Response:
        return render(request, None)

    @app.get("/domains/{domain}", response_class=HTMLResponse, include_in_schema=False)
    def domain_page(request: Request, domain: str) -> Response:
        return render(request, domain)

    return app


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _age_headers(store: ReportStore, stored: StoredReport) -> dict[str, str]:
    age = store.age_seconds() or 0.0
    headers = {"X-Mfastats-Refreshed-At": _iso(stored.refreshed_at), "X-Mfastats-Age-Seconds": f"{age:.0f}"}
    if store.error is not None:
        headers["X-Mfastats-Stale"] = "true"
    return headers
