"""A real headless Chromium driven over the DevTools protocol, for tests that
look at a stack from outside (the edge of `make run`), where Odoo's own
HttpCase browser, tied to its in-process test server, cannot go."""

import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import websocket
from peak_dev.processes import free_port, wait_for_http

SWITCHES = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--no-first-run",
    "--no-default-browser-check",
)


def _unlimited_address_space():
    """V8 reserves more than 8 GiB of virtual memory: the address-space limit
    Odoo's test process runs under kills Chromium at start (SIGTRAP), as
    Odoo's own test browser knows."""
    resource.setrlimit(
        resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    )


class Browser:
    """One Chromium page; ``events`` keeps every protocol event received."""

    def __init__(self):
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        if binary is None:
            raise RuntimeError("chromium not found (Debian package chromium)")
        self.profile = tempfile.TemporaryDirectory(
            prefix="peak-chromium-", ignore_cleanup_errors=True
        )
        self.log_path = f"{self.profile.name}.log"
        port = free_port()
        self.proc = subprocess.Popen(
            [
                binary,
                *SWITCHES,
                f"--remote-debugging-port={port}",
                "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={self.profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log_path, "wb"),  # the child keeps it
            preexec_fn=_unlimited_address_space,
            start_new_session=True,  # close() stops its helper processes too
        )
        devtools = f"http://127.0.0.1:{port}/json/list"
        try:
            wait_for_http(devtools, 30, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            with open(self.log_path, errors="replace") as log:
                tail = log.read()[-2000:]
            raise RuntimeError(f"chromium did not start: {exc}\n{tail}") from exc
        with urllib.request.urlopen(devtools, timeout=5) as response:
            pages = [t for t in json.load(response) if t["type"] == "page"]
        self.ws = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )
        self.events: list[dict] = []
        self._next_id = 0
        self.call("Page.enable")
        self.call("Network.enable")

    def call(self, method: str, **params) -> dict:
        self._next_id += 1
        self.ws.send(
            json.dumps({"id": self._next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout_s: float, since: int = 0) -> dict:
        """The first event ``method`` at index ``since`` or later."""
        deadline = time.monotonic() + timeout_s
        while True:
            for event in self.events[since:]:
                if event.get("method") == method:
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {method} within {timeout_s:.0f} s")
            self.ws.settimeout(remaining)
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                continue

    def listen(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        try:
            self.wait_for("Peak.never", seconds)
        except TimeoutError:
            pass

    def open(self, url: str, timeout_s: float = 60) -> None:
        since = len(self.events)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired", timeout_s, since)

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True
        )
        return result.get("result", {}).get("value")

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(5)
            self.profile.cleanup()

    def _signal(self, signum) -> None:
        try:
            os.killpg(self.proc.pid, signum)
        except ProcessLookupError:
            pass
