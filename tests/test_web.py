"""The web app over a real two-domain SQLite fixture (see webfixture.py), through FastAPI's TestClient."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import webfixture
from click.testing import CliRunner
from fastapi.testclient import TestClient

from mfastats.cli import cli
from mfastats.errors import UserError
from mfastats.outputs.document import report_document
from mfastats.report import build_report
from mfastats.settings import Flags, load_settings
from mfastats.web.app import COOKIE, SECURITY_HEADERS, create_app, plotly_js_path
from mfastats.web.server import ServeOptions, is_loopback, resolve_token
from mfastats.web.state import ReportStore

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUBLIC = {"/healthz", "/login", "/static/style.css"}
# Every route of the app that needs the token, with a concrete path and method.
PROTECTED = [("GET", "/"), ("GET", "/domains/ciam"), ("GET", "/domains/nope"), ("GET", "/api/report"),
             ("GET", "/api/report/ciam"), ("GET", "/api/report/nope"), ("GET", "/api/status"), ("GET", "/metrics"),
             ("GET", "/openapi.json"), ("GET", "/static/plotly.min.js"), ("GET", "/static/charts.js"),
             ("POST", "/logout"), ("GET", "/no-such-page"), ("GET", "/docs")]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> webfixture.WebFixture:
    return webfixture.build(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def store(fixture: webfixture.WebFixture) -> ReportStore:
    settings = fixture.settings()
    store = ReportStore(lambda: build_report(settings, webfixture.AS_OF))
    assert store.refresh()
    return store


@pytest.fixture(scope="module")
def client(store: ReportStore) -> TestClient:
    return TestClient(create_app(store, token=TOKEN))


def _route_paths(client: TestClient) -> set[str]:
    return {route.path for route in client.app.routes}


def test_every_route_needs_the_token_except_healthz_and_login(client: TestClient) -> None:
    covered = {path for _, path in PROTECTED} | PUBLIC
    for template in _route_paths(client):
        concrete = template.replace("{domain}", "ciam").replace("{name}", "charts.js")
        assert concrete in covered, f"route {template} is not in the 401 test"
    for method, path in PROTECTED:
        response = client.request(method, path, follow_redirects=False)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json() == {"error": response.json()["error"]} and response.json()["error"]
        assert response.headers["www-authenticate"].startswith("Bearer")
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert client.get("/login").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_wrong_bearer_is_refused(client: TestClient) -> None:
    for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer ", TOKEN, f"Bearer {TOKEN[:-1]}"):
        assert client.get("/api/report", headers={"Authorization": header}).status_code == 401


def test_browser_navigation_is_sent_to_the_login_form(client: TestClient) -> None:
    response = client.get("/domains/iam", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/domains/iam"
    # The API never redirects, whatever the client accepts.
    assert client.get("/api/report", headers={"Accept": "text/html"}).status_code == 401


def test_login_form_sets_a_strict_http_only_cookie(store: ReportStore) -> None:
    client = TestClient(create_app(store, token=TOKEN))
    bad = client.post("/login", data={"token": "wrong", "next": "/"}, follow_redirects=False)
    assert bad.status_code == 401 and COOKIE not in bad.cookies and "not valid" in bad.text
    good = client.post("/login", data={"token": TOKEN, "next": "/domains/iam"}, follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == "/domains/iam"
    set_cookie = good.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie.replace("Strict", "strict")
    assert TOKEN not in set_cookie
    page = client.get("/domains/iam")
    assert page.status_code == 200 and 'data-metric="percent">66.67<' in page.text
    assert client.get("/api/report").status_code == 200
    # Logging out clears the cookie.
    client.post("/logout", follow_redirects=False)
    assert client.get("/api/report").status_code == 401


def test_open_redirects_and_forged_cookies_are_refused(client: TestClient) -> None:
    response = client.post("/login", data={"token": TOKEN, "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/"
    fresh = TestClient(client.app)
    for forged in ("1.00", f"{int(datetime.now(UTC).timestamp()) + 3600}.{'0' * 64}", TOKEN, ""):
        fresh.cookies.set(COOKIE, forged)
        assert fresh.get("/api/report").status_code == 401, forged
    # A genuine cookie whose expiry has passed is refused too.
    from mfastats.web.app import Auth
    auth = Auth(TOKEN)
    expired = int(datetime.now(UTC).timestamp()) - 10
    fresh.cookies.set(COOKIE, f"{expired}.{auth._mac(expired)}")
    assert fresh.get("/api/report").status_code == 401


def test_api_report_is_the_report_document(client: TestClient, fixture: webfixture.WebFixture, tmp_path: Path) -> None:
    response = client.get("/api/report", headers=AUTH)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    expected = report_document(build_report(fixture.settings(), webfixture.AS_OF))
    assert response.json() == expected
    # Byte for byte what `mfastats report --format json` prints for the same report.
    result = CliRunner().invoke(cli, ["report", "--format", "json", *fixture.cli_args(), "--as-of",
                                      webfixture.AS_OF_TEXT, "--store", str(tmp_path / "no-store.sqlite")])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == response.content
    for block in expected["domains"]:
        name = block["name"]
        for key, value in webfixture.EXPECTED[name].items():
            assert block["enrollment"][key] == value, (name, key)


def test_api_domain_and_404(client: TestClient) -> None:
    document = client.get("/api/report", headers=AUTH).json()
    for block in document["domains"]:
        assert client.get(f"/api/report/{block['name']}", headers=AUTH).json() == block
    missing = client.get("/api/report/nope", headers=AUTH)
    assert missing.status_code == 404 and set(missing.json()) == {"error"} and "ciam, iam" in missing.json()["error"]
    page = client.get("/domains/nope", headers=AUTH)
    assert page.status_code == 404 and set(page.json()) == {"error"}
    unknown = client.get("/no-such-page", headers=AUTH)
    assert unknown.status_code == 404 and set(unknown.json()) == {"error"}


def test_openapi_lists_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json", headers=AUTH).json()
    assert {"/api/report", "/api/report/{domain}", "/api/status", "/metrics", "/healthz"} <= set(spec["paths"])
    assert "/login" not in spec["paths"]


def test_security_headers(client: TestClient) -> None:
    for path, headers in (("/api/report", AUTH), ("/", AUTH), ("/healthz", {}), ("/api/report", {}),
                          ("/login", {}), ("/static/charts.js", AUTH)):
        response = client.get(path, headers=headers)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "http:" not in csp and "https:" not in csp and "*" not in csp and "cdn" not in csp.lower()
    assert "frame-ancestors 'none'" in csp
    assert client.get("/api/report", headers=AUTH).headers["cache-control"] == "no-store"
    assert client.get("/", headers=AUTH).headers["cache-control"] == "no-store"
    assert client.get("/metrics", headers=AUTH).headers["cache-control"] == "no-store"


def test_page_shows_the_report_numbers_and_local_charts(client: TestClient) -> None:
    document = client.get("/api/report", headers=AUTH).json()
    everything = client.get("/", headers=AUTH).text
    for block in document["domains"]:
        e = block["enrollment"]
        row = re.search(rf'<tr data-domain="{block["name"]}".*?</tr>', everything, re.S).group(0)
        assert f'data-col="enrolled">{e["enrolled"]}<' in row and f'data-col="total">{e["total"]}<' in row
        assert f'data-col="percent">{e["percent"]:.2f}<' in row
    assert f'data-metric="enrolled">{document["all_domains"]["enrollment"]["enrolled"]}<' in everything
    iam = client.get("/domains/iam", headers=AUTH).text
    assert 'data-metric="percent">66.67<' in iam and 'data-metric="total">3<' in iam
    assert "unavailable: no audit source configured" in iam
    assert "below_target" in iam and "firing" in iam
    # Charts: JSON blocks drawn by the local plotly.js, SVG trace types only, no outside URL anywhere.
    figures = [json.loads(block) for block in
               re.findall(r'<script type="application/json" data-chart="[^"]+">(.*?)</script>', iam, re.S)]
    assert len(figures) >= 4
    assert {trace["type"] for figure in figures for trace in figure["data"]} <= {"bar", "scatter"}
    assert re.search(r"https?://", iam) is None
    assert '<script src="/static/plotly.min.js"' in iam
    # Every chart's numbers are also an HTML table.
    assert iam.count("<details><summary>Numbers</summary>") == len(figures)
    assert client.get("/static/plotly.min.js", headers=AUTH).content == plotly_js_path().read_bytes()


def test_metrics_open_flag(store: ReportStore) -> None:
    closed = TestClient(create_app(store, token=TOKEN))
    opened = TestClient(create_app(store, token=TOKEN, metrics_open=True))
    assert closed.get("/metrics").status_code == 401
    assert opened.get("/metrics").status_code == 200
    assert opened.get("/api/report").status_code == 401


def test_the_app_is_never_open() -> None:
    with pytest.raises(ValueError, match="token"):
        create_app(ReportStore(lambda: None), token="")  # type: ignore[arg-type, return-value]


def test_stale_banner_keeps_the_last_good_result(fixture: webfixture.WebFixture) -> None:
    good = fixture.settings()
    unreachable = load_settings(Flags(kratos=["ciam=postgresql://postgres@127.0.0.1:1/ciam_kratos",
                                              f"iam=sqlite:///{fixture.iam}"]), environ={})
    current = {"settings": good}
    now = {"t": datetime(2024, 5, 10, 12, 5, tzinfo=UTC)}
    store = ReportStore(lambda: build_report(current["settings"], webfixture.AS_OF), clock=lambda: now["t"])
    client = TestClient(create_app(store, token=TOKEN))
    assert store.refresh()
    first = store.latest
    assert "stale-banner" not in client.get("/", headers=AUTH).text

    now["t"] += timedelta(minutes=10)
    current["settings"] = unreachable
    assert not store.refresh()
    assert store.latest is first  # last good result kept
    now["t"] += timedelta(minutes=2)
    page = client.get("/", headers=AUTH).text
    assert 'id="stale-banner"' in page
    assert "ciam Kratos database at postgresql+psycopg://postgres@127.0.0.1:1/ciam_kratos could not be read" in page
    assert "failed 2 min ago" in page and "computed 12 min ago" in page
    status = client.get("/api/status", headers=AUTH).json()
    assert status["refresh_error"]["message"].startswith("ciam Kratos database")
    assert status["age_seconds"] == 720 and status["domains"][0]["status"] == "ok"
    api = client.get("/api/report", headers=AUTH)
    assert api.content == first.json_bytes and api.headers["x-mfastats-stale"] == "true"
    assert "mfastats_refresh_failed 1.0" in client.get("/metrics", headers=AUTH).text

    # A refresh that raises is a failure too; the next good one clears the banner.
    current["settings"] = None
    assert not store.refresh() and store.latest is first and "AttributeError" in store.error.message
    current["settings"] = good
    assert store.refresh() and store.error is None and store.latest is not first
    assert 'id="stale-banner"' not in client.get("/", headers=AUTH).text


def test_a_domain_failing_from_the_start_is_shown_not_hidden(fixture: webfixture.WebFixture) -> None:
    settings = load_settings(Flags(kratos=["ciam=postgresql://postgres@127.0.0.1:1/ciam_kratos",
                                           f"iam=sqlite:///{fixture.iam}"]), environ={})
    store = ReportStore(lambda: build_report(settings, webfixture.AS_OF))
    assert store.refresh() and store.error is None  # nothing better to keep
    page = TestClient(create_app(store, token=TOKEN)).get("/", headers=AUTH).text
    assert "Domain ciam could not be read" in page and 'data-domain="iam"' in page


def test_refuses_a_non_loopback_bind_without_a_token(fixture: webfixture.WebFixture) -> None:
    runner = CliRunner()
    for host in ("0.0.0.0", "192.168.10.5", "::", "db.example.internal"):
        result = runner.invoke(cli, ["serve", "--host", host, *fixture.cli_args()], env={"MFASTATS_TOKEN": ""})
        assert result.exit_code == 1, (host, result.output)
        assert "refusing to listen on a non-loopback address without a token" in result.output
        assert "MFASTATS_TOKEN" in result.output
    result = runner.invoke(cli, ["serve", "--refresh-seconds", "0", *fixture.cli_args()], env={"MFASTATS_TOKEN": ""})
    assert result.exit_code == 1 and "--refresh-seconds" in result.output


def test_token_policy() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.com")
    token, generated = resolve_token(ServeOptions())
    assert generated and len(token) >= 32
    assert resolve_token(ServeOptions(host="0.0.0.0", token="given-token-of-24-chars")) == ("given-token-of-24-chars", False)
    with pytest.raises(UserError, match="at least 16 characters"):
        resolve_token(ServeOptions(host="0.0.0.0", token="short"))
    assert resolve_token(ServeOptions(host="127.0.0.1", token="short")) == ("short", False)
