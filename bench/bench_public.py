"""The public pages under load on gunicorn and PostgreSQL, and what a first visit transfers.

Issue 5's targets:
- the request page (`GET /requests/<tracking number>/`, its civilian signed in) and the tracking
  lookup (`POST /track/` with the tracking number and the email, answered by a redirect to the
  request page) each have a median latency under 50 ms with 16 clients at once;
- every public page (home, the catalogue, the filing form, /track/, the request page, /rounds/)
  transfers under 200 KB on a first visit, compressed: the HTML and every stylesheet, script,
  font and image the browser loads for it, fetched with `Accept-Encoding: gzip, br` from
  WhiteNoise's compressed files;
- no page asks anything outside the portal for a script or a stylesheet.

Latency: 16 client processes on loopback, each on one keep-alive connection, send requests back
to back (no think time) for the measured seconds after one of warm-up; rounds of the baselines
(`GET /bench/ping/`, a bare Django view, and a static file WhiteNoise serves) and the two pages.
All rounds' latencies of a kind are pooled for its median. The /track/ limits (10 lookups per
15 minutes per address and per number) are raised through a setting (`BENCH_TRACK_LIMIT`, see
`bench/settings.py`); the lookup still counts each attempt in Redis.

Weight: Debian's chromium (through Playwright, if present) opens each page with an empty cache
and lists every URL it loads; each is then fetched again with `Accept-Encoding: gzip, br` and
its bytes on the wire (headers and body) counted. Without chromium the list is the page's own
references plus every `url()` in its stylesheets (an upper bound: browsers load only the fonts
the page uses).

Run: `uv run python -m bench bench_public`. The pages' front-end files come from
`npm ci && npm run build`: the benchmark runs both first when one is missing (a fresh clone),
or stops saying so when npm is not installed. Environment (all optional):
`BENCH_PUBLIC_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432/hms_bench_public,
created and migrated), `BENCH_PUBLIC_REDIS_URL` (redis://127.0.0.1:6379/8, flushed before and
after), `BENCH_PUBLIC_ROWS` (100,000 requests seeded by SQL around the measured one),
`BENCH_PUBLIC_CLIENTS` (16), `BENCH_PUBLIC_SECONDS` (6), `BENCH_PUBLIC_ROUNDS` (2),
`BENCH_PUBLIC_WORKERS` (gunicorn sync workers, 2 x cores + 1), `BENCH_PUBLIC_STATIC_ROOT` (where
the static files are collected; a temporary directory unless set, reused when it holds a
manifest).
"""

from __future__ import annotations

import gzip
import http.client
import json
import multiprocessing
import os
import re
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bench.common import ensure_database, server_cpu_seconds
from bench.serving import (
    HOST,
    PhaseResult,
    csrf_token,
    django_env,
    ensure_assets,
    flush_redis,
    gunicorn,
    ready,
    run,
    timed_requests,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/hms_bench_public"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
TARGET_MEDIAN_MS = 50.0
TARGET_PAGE_BYTES = 200 * 1024
TARGETED = ("detail", "track")
KINDS = ("ping", "static", "detail", "track")
CHROMIUM = Path(os.environ.get("HMS_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PROGRAM_CODE = "bench-public"
SERVICE_CODE = "bench-public-inspection"
CIVILIAN = "bench-public-civilian"
CIVILIAN_EMAIL = "bench-public-civilian@example.org"
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


@dataclass(frozen=True)
class Config:
    """What the run measures against, read from the environment."""

    database_url: str
    redis_url: str
    rows: int
    clients: int
    seconds: float
    rounds: int
    workers: int

    @classmethod
    def from_env(cls) -> Config:
        """Read the configuration, with the documented defaults."""
        return cls(
            database_url=os.environ.get("BENCH_PUBLIC_DATABASE_URL", DEFAULT_DATABASE_URL),
            redis_url=os.environ.get("BENCH_PUBLIC_REDIS_URL", DEFAULT_REDIS_URL),
            rows=int(os.environ.get("BENCH_PUBLIC_ROWS", "100000")),
            clients=int(os.environ.get("BENCH_PUBLIC_CLIENTS", "16")),
            seconds=float(os.environ.get("BENCH_PUBLIC_SECONDS", "6")),
            rounds=int(os.environ.get("BENCH_PUBLIC_ROUNDS", "2")),
            workers=int(os.environ.get("BENCH_PUBLIC_WORKERS", str(2 * (os.cpu_count() or 1) + 1))),
        )


# --- Django side (run as `python -m bench.bench_public prepare N`) ---------------------------


def _prepare(clients: int, rows: int) -> dict[str, Any]:
    """The bench program, service type and civilian with one request of theirs among `rows`
    seeded ones; `clients` signed-in sessions; the SQL queries of each measured page."""
    import django

    django.setup()
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.seed import seed_requests
    from governance.models import Program
    from service_requests import services
    from service_requests.models import ServiceRequest, ServiceType

    program, _ = Program.objects.get_or_create(
        code=PROGRAM_CODE, defaults={"name": "Bench public program", "active": True}
    )
    service_type, _ = ServiceType.objects.get_or_create(
        code=SERVICE_CODE,
        defaults={"name": "Home inspection (bench)", "program": program, "active": True},
    )
    users = get_user_model().objects
    civilian, created = users.get_or_create(
        username=CIVILIAN, defaults={"email": CIVILIAN_EMAIL, "first_name": "Bench"}
    )
    if created:
        EmailAddress.objects.create(
            user=civilian, email=CIVILIAN_EMAIL, verified=True, primary=True
        )
    others, _ = users.get_or_create(
        username="bench-public-others", defaults={"email": "others@example.org"}
    )
    seed_requests(
        rows=rows, type_ids=[service_type.pk], requester_ids=[others.pk], assignee_id=others.pk
    )
    mine = ServiceRequest.objects.filter(requester=civilian).order_by("pk").first()
    if mine is None:
        mine, _ = services.request_submit(
            actor=civilian,
            service_type=service_type,
            description="The back steps of number 12, Elm Street, are broken. " * 3,
            contact_name="Bench Civilian",
            contact_email=CIVILIAN_EMAIL,
        )
    sessions = []
    for _ in range(clients + 1):
        client = Client()
        client.force_login(civilian, backend="django.contrib.auth.backends.ModelBackend")
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)

    signed_in = Client()
    signed_in.force_login(civilian, backend="django.contrib.auth.backends.ModelBackend")
    detail = f"/requests/{mine.tracking_number}/"
    track_form = {"tracking_number": mine.tracking_number, "email": CIVILIAN_EMAIL}
    queries: dict[str, int] = {}
    for label, call, expected in (
        ("detail", lambda: signed_in.get(detail), 200),
        ("track", lambda: Client().post("/track/", track_form), 302),
        ("home", lambda: Client().get("/"), 200),
        ("catalogue", lambda: Client().get("/requests/new/"), 200),
        ("form", lambda: signed_in.get(f"/requests/new/?service={SERVICE_CODE}"), 200),
        ("rounds", lambda: Client().get("/rounds/"), 200),
    ):
        call()  # the first call of a process pays one-time costs
        with CaptureQueriesContext(connection) as captured:
            status = call().status_code
        if status != expected:
            raise SystemExit(f"in-process {label} answered {status}, expected {expected}")
        queries[label] = len(captured)
    return {
        "tracking_number": mine.tracking_number,
        "email": CIVILIAN_EMAIL,
        "service_code": SERVICE_CODE,
        "rows": ServiceRequest.objects.count(),
        "session_cookie_name": settings.SESSION_COOKIE_NAME,
        "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
        "sessions": sessions,
        "queries": queries,
    }


# --- Load ------------------------------------------------------------------------------------


def _request_of(job: dict[str, Any]) -> tuple[str, str, str | None, dict[str, str], int]:
    """(method, path, body, headers, expected status) of one client's requests of its kind."""
    kind = job["kind"]
    if kind == "ping":
        return "GET", "/bench/ping/", None, {}, 200
    if kind == "static":
        return "GET", job["static_path"], None, {"Accept-Encoding": "gzip, br"}, 200
    if kind == "detail":
        cookie = f"{job['session_cookie_name']}={job['session']}"
        return "GET", f"/requests/{job['tracking_number']}/", None, {"Cookie": cookie}, 200
    csrf = job["csrf"]
    body = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": csrf,
            "tracking_number": job["tracking_number"],
            "email": job["email"],
        }
    )
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"{job['csrf_cookie_name']}={csrf}",
    }
    return "POST", "/track/", body, headers, 302


def _client_loop(job: dict[str, Any]) -> dict[str, Any]:
    """One client: its kind's request as fast as answers come, on one keep-alive connection,
    from `begin` + warm-up to the end of the phase."""
    method, path, body, headers, expected = _request_of(job)

    def send(conn: http.client.HTTPConnection) -> str:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        content = response.read()
        if response.status != expected:
            return f"{response.status} {response.getheader('Location', '')} {content[:200]!r}"
        return ""

    return timed_requests(job, send)


def _phase(pool: Any, kind: str, common: dict[str, Any], config: Config) -> PhaseResult:
    begin = time.time() + 0.3
    jobs = [
        {
            **common,
            "kind": kind,
            "session": common["sessions"][index],
            "csrf": csrf_token(),
            "begin": begin,
            "seconds": config.seconds,
        }
        for index in range(config.clients)
    ]
    result = PhaseResult(kind=kind, seconds=config.seconds)
    cpu_before = server_cpu_seconds(common["port"])
    for part in pool.map(_client_loop, jobs, chunksize=1):
        result.add(part)
    result.server_cpu = server_cpu_seconds(common["port"]) - cpu_before
    return result


# --- Weight ----------------------------------------------------------------------------------


class _References(HTMLParser):
    """What an HTML page asks for: stylesheets, scripts, images and icons."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.blocking: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        rel = found.get("rel", "").lower().split()
        if tag == "script" and found.get("src"):
            self.assets.append(found["src"])
            self.blocking.append(found["src"])
        elif tag == "link" and found.get("href") and ({"stylesheet", "icon", "preload"} & set(rel)):
            self.assets.append(found["href"])
            if "stylesheet" in rel:
                self.blocking.append(found["href"])
        elif tag == "img" and found.get("src"):
            self.assets.append(found["src"])


def _fetch(port: int, path: str, cookie: str = "") -> tuple[int, int, bytes, str]:
    """GET `path` as a browser on a first visit would (gzip and Brotli accepted): status, bytes
    on the wire (status line, headers and the body as sent), the body decoded when it is gzip
    (for parsing), and its content encoding."""
    headers = {"Accept-Encoding": "gzip, br", "Accept": "*/*"}
    if cookie:
        headers["Cookie"] = cookie
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        header_bytes = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + len(
            str(response.msg)
        )
        encoding = response.getheader("Content-Encoding", "") or ""
        text = gzip.decompress(raw) if encoding == "gzip" else raw
        if encoding == "br":
            import brotli  # type: ignore[import-not-found,unused-ignore]

            text = brotli.decompress(raw)
        return response.status, header_bytes + len(raw), text, encoding
    finally:
        conn.close()


def _browser_urls(port: int, pages: dict[str, tuple[str, str]], cookie: tuple[str, str]) -> Any:
    """Every URL chromium loads for each page, with an empty cache; None without chromium."""
    if not CHROMIUM.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    loaded: dict[str, list[str]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            for label, (path, signed_in) in pages.items():
                context = browser.new_context()
                if signed_in:
                    context.add_cookies(
                        [{"name": cookie[0], "value": cookie[1], "url": f"http://{HOST}:{port}/"}]
                    )
                page = context.new_page()
                urls: list[str] = []
                page.on("request", lambda request, urls=urls: urls.append(request.url))
                page.goto(f"http://{HOST}:{port}{path}", wait_until="networkidle")
                loaded[label] = urls
                context.close()
        finally:
            browser.close()
    return loaded


def _referenced_urls(port: int, path: str, cookie: str) -> list[str]:
    """The page's own references and, in its stylesheets, every `url()` (an upper bound)."""
    _, _, html, _ = _fetch(port, path, cookie)
    parser = _References()
    parser.feed(html.decode("utf-8", "replace"))
    base = f"http://{HOST}:{port}{path}"
    urls = [base]
    for ref in parser.assets:
        url = urllib.parse.urljoin(base, ref)
        urls.append(url)
        if url.split("?")[0].endswith(".css") and urllib.parse.urlsplit(url).port == port:
            _, _, css, _ = _fetch(port, urllib.parse.urlsplit(url).path)
            for inner in CSS_URL.findall(css.decode("utf-8", "replace")):
                if not inner.startswith("data:"):
                    urls.append(urllib.parse.urljoin(url, inner.split("#")[0]))
    return list(dict.fromkeys(urls))


def _weigh(port: int, prep: dict[str, Any]) -> tuple[list[str], bool]:
    """Weigh every public page's first visit; return the printed lines and whether all pass."""
    tracking = prep["tracking_number"]
    session = (prep["session_cookie_name"], prep["sessions"][-1])
    pages = {
        "home /": ("/", False),
        "catalogue /requests/new/": ("/requests/new/", False),
        "form /requests/new/?service=": (f"/requests/new/?service={prep['service_code']}", True),
        "track /track/": ("/track/", False),
        "request page": (f"/requests/{tracking}/", True),
        "rounds /rounds/": ("/rounds/", False),
    }
    browser = _browser_urls(port, pages, session)
    method = "URLs chromium loaded" if browser is not None else "references + all CSS url()"
    lines = [f"first-visit weight ({method}; fetched with Accept-Encoding: gzip, br):"]
    ok = True
    for label, (path, signed_in) in pages.items():
        cookie = f"{session[0]}={session[1]}" if signed_in else ""
        page_status, _, html, _ = _fetch(port, path, cookie)
        failed = [] if page_status == 200 else [f"{path} ({page_status})"]
        parser = _References()
        parser.feed(html.decode("utf-8", "replace"))
        base = f"http://{HOST}:{port}{path}"
        external = [
            ref
            for ref in parser.blocking
            if urllib.parse.urlsplit(urllib.parse.urljoin(base, ref)).netloc
            not in ("", f"{HOST}:{port}")
        ]
        urls = browser[label] if browser is not None else _referenced_urls(port, path, cookie)
        total = 0
        parts: list[str] = []
        for url in dict.fromkeys(urls):
            split = urllib.parse.urlsplit(url)
            if split.scheme == "data":
                continue
            if split.netloc != f"{HOST}:{port}":
                external.append(url)
                continue
            local = split.path + (f"?{split.query}" if split.query else "")
            status, size, _, encoding = _fetch(port, local, cookie)
            total += size
            name = split.path.rsplit("/", 1)[-1] or split.path
            how = f"/{encoding}" if encoding else ""
            note = "" if status == 200 else f" ({status})"
            if status != 200:
                failed.append(f"{local} ({status})")
            parts.append(f"{name}={size / 1024:.1f}K{how}{note}")
        # A page or file that did not load would make the page look lighter: it fails.
        external = list(dict.fromkeys(external))
        passed = total < TARGET_PAGE_BYTES and not external and not failed
        ok = ok and passed
        lines.append(
            f"  {label:<30} {total / 1024:7.1f} KB in {len(parts):2d} requests, "
            f"external {len(external)}: {'PASS' if passed else 'FAIL'}"
        )
        lines.append("      " + ", ".join(parts))
        for url in external:
            lines.append(f"      external: {url}")
        for url in failed:
            lines.append(f"      not loaded: {url}")
    return lines, ok


# --- Run -------------------------------------------------------------------------------------


def _static_path(static_root: Path) -> str:
    """portal.css under its hashed name, from WhiteNoise's manifest."""
    manifest = json.loads((static_root / "staticfiles.json").read_text())
    return "/static/" + manifest["paths"]["css/portal.css"]


def main() -> int:
    """Prepare, collect static files, serve with gunicorn, weigh pages, then load them."""
    config = Config.from_env()
    ensure_assets()  # the pages link to them; collectstatic fails without them
    print(f"database {config.database_url}, redis {config.redis_url}", flush=True)
    ensure_database(config.database_url)
    phases: list[PhaseResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-public-") as tmp:
        static_root = Path(os.environ.get("BENCH_PUBLIC_STATIC_ROOT") or Path(tmp) / "static")
        env = django_env(config.database_url, config.redis_url)
        env.update({"BENCH_STATIC_ROOT": str(static_root), "BENCH_TRACK_LIMIT": "100000000"})
        run(env, "manage.py", "migrate", "--noinput", "-v", "0")
        if not (static_root / "staticfiles.json").exists():
            started = time.perf_counter()
            run(env, "manage.py", "collectstatic", "--noinput", "-v", "0")
            print(f"collectstatic (compressed, hashed): {time.perf_counter() - started:.0f} s")
        flush_redis(config.redis_url)
        try:
            out = run(
                env, "-m", "bench.bench_public", "prepare", str(config.clients), str(config.rows)
            )
            prep = json.loads(out.strip().splitlines()[-1])
            print(f"{prep['rows']:,} requests; queries per page (in-process): {prep['queries']}")
            common = {
                key: prep[key]
                for key in (
                    "tracking_number",
                    "email",
                    "sessions",
                    "session_cookie_name",
                    "csrf_cookie_name",
                )
            }
            common["static_path"] = _static_path(static_root)
            log = Path(tmp) / "gunicorn.log"
            with gunicorn(env, log, config.workers) as port:
                common["port"] = port
                weight_lines, weight_ok = _weigh(port, prep)
                print("\n".join(weight_lines), flush=True)
                print(
                    f"load: {config.clients} clients, {config.seconds:g} s per phase after "
                    f"1 s warm-up, {config.workers} gunicorn workers",
                    flush=True,
                )
                context = multiprocessing.get_context("spawn")
                with context.Pool(config.clients) as pool:
                    pool.map(ready, range(config.clients), chunksize=1)
                    for _ in range(config.rounds):
                        for kind in KINDS:
                            result = _phase(pool, kind, common, config)
                            print("  " + result.line(), flush=True)
                            phases.append(result)
            server_log = log.read_text(errors="replace")
            if "Traceback" in server_log:
                print("gunicorn log (tail):\n" + server_log[-3000:])
        finally:
            flush_redis(config.redis_url)
    return 0 if _report(phases) and weight_ok else 1


def _report(phases: list[PhaseResult]) -> bool:
    """Pool each kind's rounds, print medians and ratios to the baselines; True if met."""
    pooled: dict[str, PhaseResult] = {}
    for kind in KINDS:
        merged = PhaseResult(kind=kind, seconds=sum(r.seconds for r in phases if r.kind == kind))
        for result in (r for r in phases if r.kind == kind):
            merged.extend(result)
        pooled[kind] = merged
    print("all rounds pooled:")
    for kind in KINDS:
        print("  " + pooled[kind].line())
        for sample in pooled[kind].error_samples[:3]:
            print(f"    error: {sample}")
    ping = pooled["ping"].percentile(0.5) or 1e-9
    static = pooled["static"].percentile(0.5) or 1e-9
    met = True
    for kind in TARGETED:
        median = pooled[kind].percentile(0.5)
        passed = median < TARGET_MEDIAN_MS and not pooled[kind].errors
        met = met and passed
        print(
            f"{kind}: median {median:.1f} ms (target < {TARGET_MEDIAN_MS:g} ms, errors "
            f"{pooled[kind].errors}); x{median / ping:.1f} the bare view, x{median / static:.1f} "
            f"the static file; server CPU {pooled[kind].server_cpu_ms:.2f} ms/req "
            f"(x{pooled[kind].server_cpu_ms / (pooled['ping'].server_cpu_ms or 1e-9):.1f} the "
            f"bare view's): {'PASS' if passed else 'FAIL'}",
            flush=True,
        )
    return met


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        print(json.dumps(_prepare(int(sys.argv[2]), int(sys.argv[3]))))
        sys.exit(0)
    sys.exit(main())
