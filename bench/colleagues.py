"""Colleagues without a browser: Streamlit sessions driven over the app's own websocket protocol.

A shop's twenty staff each run their browser on their own phone or PC; only the app runs on the server. On a
2-core machine twenty Chromiums cannot run beside the app (one person's round costs Chromium ~25 CPU-seconds,
the app ~7; see docs/performance.md), so ``bench.pages --browsers K`` times K people in Chromium while the other
sessions of the round are these clients: each one is a real Streamlit session (logged in with a cookie a browser
obtained, the same pages, the same think time) that sends what the browser sends (``BackMsg.rerun_script`` with the
page's URL path and query string) and waits for ``script_finished``. Their times are the server's share of a step
(no rendering); the people in Chromium wait for the same app under the same load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

XSRF_COOKIE = "_streamlit_xsrf"


@dataclass(frozen=True)
class Step:
    """One timed step: the page (URL path, as the sidebar link has it) and query string a browser would send."""

    name: str
    url_path: str
    query: str = ""


def cookie_header(cookies: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Playwright's ``context.cookies()`` → the name/value pairs a websocket handshake sends."""
    return {c["name"]: c["value"] for c in cookies}


def rerun_message(step: Step) -> bytes:
    return BackMsg(rerun_script=ClientState(query_string=step.query, page_name=step.url_path)).SerializeToString()


LOG_IN_BUTTON = "Log in with your company account"  # shown instead of the page: the session is not logged in


async def until_finished(ws: Any) -> str:
    """Read forward messages until a whole script run has finished (a run ended early for a rerun, e.g. by
    ``st.switch_page``, is not the end); the final status's name, or why the step did not show its page."""
    problem = ""
    while True:
        msg = ForwardMsg()
        msg.ParseFromString(await ws.recv())
        kind = msg.WhichOneof("type")
        if kind == "page_not_found":
            problem = "PAGE_NOT_FOUND"
        elif kind == "delta" and msg.delta.new_element.WhichOneof("type") == "button" \
                and msg.delta.new_element.button.label == LOG_IN_BUTTON:
            problem = "NOT_LOGGED_IN"
        if kind != "script_finished":
            continue
        if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            continue
        return problem or str(ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished))


async def colleague(app_url: str, cookies: dict[str, str], steps: Sequence[Step], pause: Any,
                    times: dict[str, list[float]], *, timeout: float = 180.0) -> None:
    """One colleague's round: for each step, think (``pause``), ask for the page, time it until the run ends."""
    import websockets

    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "Origin": app_url}
    ws_url = app_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/_stcore/stream"
    try:
        async with websockets.connect(ws_url, subprotocols=["streamlit", cookies[XSRF_COOKIE]],  # type: ignore[list-item]
                                      additional_headers=headers, max_size=None, open_timeout=timeout) as ws:
            for step in steps:
                await pause()
                started = time.perf_counter()
                await ws.send(rerun_message(step))
                status = await asyncio.wait_for(until_finished(ws), timeout)
                times[step.name].append((time.perf_counter() - started) * 1000)
                if status != "FINISHED_SUCCESSFULLY":
                    times["errors"].append(1)
                    print(f"  colleague: {step.name} ended {status}", flush=True)
    except Exception as exc:  # a failed colleague is counted and reported, the round goes on
        times["errors"].append(1)
        print(f"  colleague: {type(exc).__name__}: {str(exc)[:200]}", flush=True)
