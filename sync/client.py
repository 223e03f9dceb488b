"""The kiosk's sync client: enrol, push the outbox, pull changes; in the background or at once.

Everything here runs outside the kiosk's scan path: it only takes the store's write lock for
short transactions (acknowledging a batch, applying a page), so a scan never waits on the
network.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_never,
    wait_random_exponential,
)
from urllib3.util.retry import Retry

from kiosk import __version__, settings
from kiosk.clock import utc_now
from kiosk.store import Store, StoreError, get_setting, set_setting
from sync import replica, wire
from sync.collector import collector_paused

log = logging.getLogger(__name__)

TIMEOUT = (5.0, 60.0)  # connect, read (seconds): a big batch may take the office a while
PUSH_BATCH = wire.MAX_BATCH
PULL_PAGE = wire.MAX_PAGE
Progress = Callable[[int, int], None]  # (changes applied so far, changes in all)
Answer = TypeVar("Answer", bound=BaseModel)


class SyncError(Exception):
    """Sync did not complete; the message says why in words for a small librarian."""


class OfficeUnreachable(SyncError):
    """No answer from the office (network down, server off): try again later."""


class OfficeRefused(SyncError):
    """The office answered no (revoked kiosk, bad code); trying again will not help."""


def http_session() -> requests.Session:
    """A session that retries a dropped connection a few times, with jittered backoff.

    POST is retried too: a push is idempotent by event UUID, so sending a batch twice is safe.
    """
    retry = Retry(
        total=3,
        connect=3,
        read=2,
        status=3,
        status_forcelist=(502, 503, 504),
        allowed_methods=None,
        backoff_factor=0.5,
        backoff_jitter=0.5,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass
class SyncReport:
    sent: int = 0
    stored: int = 0
    acknowledged: int = 0
    pulled: int = 0
    reset: bool = False
    gaps: list[tuple[int, int]] = field(default_factory=list)
    conflicts: list[wire.Conflict] = field(default_factory=list)
    clock_offset_seconds: float | None = None

    def summary(self) -> str:
        text = (
            f"sent {self.sent} events ({self.acknowledged} acknowledged), "
            f"pulled {self.pulled} changes"
        )
        if self.reset:
            text += " (a fresh full copy: the office database is not the one seen before)"
        if self.conflicts:
            text += f", {len(self.conflicts)} conflicts for the librarian"
        return text


class SyncClient:
    """Sync of one kiosk's store with its office."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        session: requests.Session | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.http = session or http_session()

    # -- enrolment ---------------------------------------------------------------------------

    def enroll(self, url: str, code: str, name: str) -> int:
        """Exchange the office's one-time *code* for this kiosk's id and token."""
        url = office_url(url)
        body = wire.EnrollRequest(code=code, name=name)
        # Never retried: a code is used up by the first request the office receives.
        answer = self._call(
            wire.EnrollReply,
            "POST",
            url,
            "/enroll",
            None,
            body,
            retry=False,
        )
        replica.save_token(self.store, answer.token)
        with self.store.write() as db:
            replica.enrolled(db, url, answer.kiosk_id)
        return answer.kiosk_id

    # -- one sync ----------------------------------------------------------------------------

    def sync(self, progress: Progress | None = None) -> SyncReport:
        """Push every event the office lacks, then pull every change since the last pull."""
        report = SyncReport()
        try:
            self.push(report)
            self.pull(report, progress)
        except SyncError as exc:
            self._note_error(str(exc))
            raise
        self._note_error("")
        return report

    def push(self, report: SyncReport) -> None:
        url, token = self._office()
        with self.store.read() as db:
            start = replica.first_unacked(db) or replica.last_seq(db) + 1
            acked_seq, acked_proof = replica.last_acknowledgement(db)
        # The kiosk's own work is done beside the requests, while the office applies a batch:
        # the next batch read ahead, the office's acknowledgement of the last one noted.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox") as outbox:
            upcoming: Future[tuple[replica.Outbox, int]] | None = None
            noted: Future[int] | None = None
            while True:  # each round the office holds more, or says from where to send again
                batch, waiting = upcoming.result() if upcoming else self._outbox(start)
                sent = len(batch.events)
                following = batch.last + 1 if sent else start
                # More waits than this batch: the next is read while the office applies this one.
                upcoming = outbox.submit(self._outbox, following) if waiting > sent else None
                request = wire.PushRequest(
                    sent_at=self.clock(),
                    events=[],
                    waiting=waiting,
                    acked_seq=acked_seq,
                    acked_proof=acked_proof,
                    version=__version__,
                )
                before = self.clock()
                reply = self._call(
                    wire.PushReply,
                    "POST",
                    url,
                    "/push",
                    token,
                    wire.push_request_json(request, batch.events),
                )
                after = self.clock()
                offset = (reply.server_time - (before + (after - before) / 2)).total_seconds()
                if noted is not None:
                    report.acknowledged += noted.result()
                noted = outbox.submit(self._acknowledge, reply, offset)
                report.sent += sent
                report.stored += reply.stored
                report.gaps = reply.gaps
                report.conflicts.extend(reply.conflicts)
                report.clock_offset_seconds = offset
                # The office may hold less than the kiosk thought (restored from a backup): the
                # next batch starts right after what it holds, acknowledged here or not.
                if sent and reply.highest_seq + 1 == start == batch.first:
                    # Sent from where the office asked, and it took none: never spin on it.
                    raise OfficeRefused(f"the office does not take event {start}: {reply.gaps}")
                acked_seq, acked_proof = reply.highest_seq, reply.ack_proof
                start = reply.highest_seq + 1
                with self.store.read() as db:
                    if start > replica.last_seq(db):
                        report.acknowledged += noted.result()
                        return
                if start != following:  # the office asks for other events than those read ahead
                    upcoming = None

    def _outbox(self, start: int) -> tuple[replica.Outbox, int]:
        """A batch of events from *start* on, and how many are waiting from there."""
        with self.store.read() as db:
            batch = replica.outbox_from(db, start, PUSH_BATCH)
            return batch, max(replica.last_seq(db) - start + 1, 0)

    def _acknowledge(self, reply: wire.PushReply, offset: float) -> int:
        with self.store.write() as db:
            return replica.acknowledge(
                db, reply.highest_seq, reply.server_time, offset, reply.ack_proof
            )

    def pull(self, report: SyncReport, progress: Progress | None = None) -> None:
        url, token = self._office()
        with self.store.read() as db:
            cursor = get_setting(db, settings.CURSOR) or None
        done = 0
        # The next page is asked for as soon as this one's cursor is known, and comes while
        # this one is written: the office's and the network's time is not waited for twice.
        fetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pull")
        try:
            following = fetcher.submit(self._changes, url, token, cursor)
            while True:
                reply = following.result()
                # The page says at its start where the next one begins: asked for before this
                # one is read whole (checked against it once read).
                asked = _next_cursor(reply)
                if asked is not None:
                    following = fetcher.submit(self._changes, url, token, asked)
                with collector_paused():
                    page = _answer(wire.ChangesPage, url, "/changes", reply)
                    if page.more and page.cursor != asked:
                        following = fetcher.submit(self._changes, url, token, page.cursor)
                    try:
                        with self.store.write() as db:
                            replica.apply_changes(db, page.changes, self.clock().date())
                            set_setting(db, settings.CURSOR, page.cursor)
                    except replica.PageError as exc:
                        raise OfficeUnreachable(
                            f"the office at {url} sent changes the kiosk cannot apply (nothing "
                            f"of them was kept): {exc}"
                        ) from exc
                report.reset = report.reset or page.reset
                report.pulled += len(page.changes)
                done += len(page.changes)
                if progress is not None:
                    progress(done, done + page.total - len(page.changes))
                if not page.more:
                    return
        finally:  # a page asked for but not to be written is left to end by itself
            fetcher.shutdown(wait=False, cancel_futures=True)

    def _changes(self, url: str, token: str, cursor: str | None) -> bytes:
        """The office's page of changes after *cursor*, as it sent it."""
        params = {"limit": str(PULL_PAGE)}
        if cursor:
            params["cursor"] = cursor
        return self._send("GET", url, "/changes", token, None, params=params)

    # -- plumbing ----------------------------------------------------------------------------

    def _office(self) -> tuple[str, str]:
        with self.store.read() as db:
            url = replica.office_url(db)
        return url, replica.load_token(self.store)

    def _note_error(self, message: str) -> None:
        try:
            with self.store.write() as db:
                set_setting(db, settings.LAST_ERROR, message)
        except StoreError:
            log.exception("could not note the sync result")

    def _call(
        self,
        answer: type[Answer],
        method: str,
        url: str,
        path: str,
        token: str | None,
        body: BaseModel | bytes | None,
        *,
        retry: bool = True,
    ) -> Answer:
        """The office's answer to one request, read straight from the reply's bytes."""
        reply = self._send(method, url, path, token, body, retry=retry)
        return _answer(answer, url, path, reply)

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        token: str | None,
        body: BaseModel | bytes | None,
        *,
        params: dict[str, str] | None = None,
        retry: bool = True,
    ) -> bytes:
        """The body of the office's reply to one request, if it said yes; the request's body
        (a model, or JSON already) is written as JSON straight to bytes (a full batch is half a
        megabyte)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        http = self.http if retry else requests.Session()
        try:
            response = http.request(
                method,
                f"{url}{wire.API}{path}",
                data=body.model_dump_json().encode() if isinstance(body, BaseModel) else body,
                params=params,
                headers=headers,
                timeout=TIMEOUT,
            )
        except requests.RequestException as exc:
            raise OfficeUnreachable(_why_unreachable(url, exc)) from exc
        if response.status_code in (401, 403, 409):
            raise OfficeRefused(f"the office refused: {_detail(response)}")
        if response.status_code >= 400:
            raise OfficeUnreachable(
                f"the office answered {response.status_code}: {_detail(response)}"
            )
        return response.content


def _answer(answer: type[Answer], url: str, path: str, reply: bytes) -> Answer:
    """The office's *reply* to *path*, validated."""
    try:
        return answer.model_validate_json(reply)
    except ValidationError as exc:
        raise OfficeUnreachable(
            f"the office at {url} answered {path} with something else than "
            f"expected: {wire.problems(exc)}"
        ) from exc


def _next_cursor(reply: bytes) -> str | None:
    """The cursor of the page after *reply*, as the office's page begins (``wire.ChangesPage``'s
    fields in their order, the changes last); None if it is the last page or begins otherwise."""
    head = _PAGE_HEAD.match(reply)
    return head[1].decode() if head and head[2] == b"true" else None


_PAGE_HEAD = re.compile(rb'\{"cursor":"([^"\\]*)","reset":(?:true|false),"more":(true|false),')


def office_url(given: str) -> str:
    """The office's address as people write it ("office-pc", "192.168.1.20:8470",
    "http://office-pc:8470/") as a URL: http:// and the office's own port when left out."""
    url = given.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
        if urlsplit(url).port is None:
            url = f"{url}:{wire.PORT}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SyncError(f"{given!r} is not an office address; write it as http://office-pc:8470")
    return url


def _why_unreachable(url: str, exc: requests.RequestException) -> str:
    """In words, why the office did not answer: the exception chain of requests and urllib3
    says it in a way only a programmer reads."""
    causes = list(_causes(exc))
    host = urlsplit(url).hostname
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return (
            f"nothing answers at {url}: is `library-server serve` running there, "
            "and is that its port?"
        )
    if any(isinstance(c, socket.gaierror) for c in causes):
        return (
            f"no computer called {host} can be found from here: give the office's address "
            "as `library-server serve` prints it"
        )
    if isinstance(exc, requests.Timeout):
        return f"the office at {url} did not answer in time; is the network up?"
    last = causes[-1]
    why = last.strerror if isinstance(last, OSError) and last.strerror else type(last).__name__
    return f"the office at {url} cannot be reached ({why.lower()})"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """*exc* and what caused it, down the chain (urllib3 keeps the cause in ``reason``)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        reason = getattr(exc, "reason", None)
        exc = reason if isinstance(reason, BaseException) else exc.__cause__ or exc.__context__


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail"))
    except ValueError:
        return response.text[:200]


class SyncThread:
    """Background sync: soon after new events, and every *period* seconds to pull changes.

    After a failure it waits with exponential backoff and jitter (so fifty kiosks coming
    back online do not all call at once); a refusal (revoked kiosk) stops it until restarted.
    """

    def __init__(
        self,
        client: SyncClient,
        *,
        period: float = 300.0,
        poll: float = 2.0,
        max_backoff: float = 600.0,
    ) -> None:
        self.client = client
        self.period = period
        self.poll = poll
        self.max_backoff = max_backoff
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self.last_report: SyncReport | None = None
        self.last_error: str | None = None

    def start(self) -> SyncThread:
        self._thread.start()
        return self

    def notify(self) -> None:
        """Something changed: sync soon."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        next_pull = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_pull or self._has_pending() or self._wake.is_set():
                self._wake.clear()
                if not self._sync_with_backoff():
                    return
                next_pull = time.monotonic() + self.period
            self._wake.wait(self.poll)

    def _has_pending(self) -> bool:
        try:
            with self.client.store.read() as db:
                return replica.pending(db) > 0
        except StoreError:
            return False

    def _sync_with_backoff(self) -> bool:
        """Sync until it works or the thread stops; False when the office refuses for good."""
        retrying = Retrying(
            retry=retry_if_exception_type(OfficeUnreachable),
            wait=wait_random_exponential(multiplier=1, max=self.max_backoff),
            stop=stop_never,
            sleep=self._sleep,
            reraise=True,
            before_sleep=self._failed,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if self._stop.is_set():
                        return False
                    self.last_report = self.client.sync()
                    self.last_error = None
        except OfficeRefused as exc:
            self.last_error = str(exc)
            log.error("sync stopped: %s", exc)
            return False
        except (RetryError, SyncError, StoreError) as exc:
            self.last_error = str(exc)
            return not self._stop.is_set()
        return True

    def _failed(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        self.last_error = str(error)
        log.info("sync failed, trying again later: %s", error)

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise OfficeRefused("the kiosk is shutting down")
