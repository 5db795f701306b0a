"""bench.colleagues speaks Streamlit's websocket protocol: what it sends and when it counts a step as done."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.colleagues import LOG_IN_BUTTON, Step, rerun_message, until_finished


class Feed:
    """Forward messages as the server would send them, one per ``recv``."""

    def __init__(self, *messages: ForwardMsg) -> None:
        self.messages = [m.SerializeToString() for m in messages]

    async def recv(self) -> bytes:
        return self.messages.pop(0)


def run(coroutine: Coroutine[Any, Any, str]) -> str:
    """In a thread of its own: the browser tests leave an event loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def finished(status: int) -> ForwardMsg:
    msg = ForwardMsg()
    msg.script_finished = status  # type: ignore[assignment]
    return msg


def test_rerun_message_names_the_page_by_url_path_and_carries_the_query() -> None:
    msg = BackMsg()
    msg.ParseFromString(rerun_message(Step("open a payment", "refunds", "payment=ORD-1")))
    assert msg.WhichOneof("type") == "rerun_script"
    assert (msg.rerun_script.page_name, msg.rerun_script.query_string) == ("refunds", "payment=ORD-1")


def test_a_run_ended_for_a_rerun_is_not_the_end_of_the_step() -> None:
    feed = Feed(finished(ForwardMsg.FINISHED_EARLY_FOR_RERUN), ForwardMsg(), finished(ForwardMsg.FINISHED_SUCCESSFULLY))
    assert run(until_finished(feed)) == "FINISHED_SUCCESSFULLY"
    assert feed.messages == []


def test_the_log_in_page_or_a_missing_page_is_reported_not_timed_as_a_page() -> None:
    login = ForwardMsg()
    login.delta.new_element.button.label = LOG_IN_BUTTON
    assert run(until_finished(Feed(login, finished(ForwardMsg.FINISHED_SUCCESSFULLY)))) == "NOT_LOGGED_IN"
    missing = ForwardMsg()
    missing.page_not_found.page_name = ""
    assert run(until_finished(Feed(missing, finished(ForwardMsg.FINISHED_SUCCESSFULLY)))) == "PAGE_NOT_FOUND"
