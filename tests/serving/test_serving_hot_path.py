"""The /invocations hot path: where a batch is predicted (on the event loop
only when it is cheap), and the raw socket answers of the lean endpoint."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time

import numpy as np
import pytest

from mlcadence.serving.batching import INLINE_BUDGET_S, INLINE_ROWS, MicroBatcher
from mlcadence.serving.convert import ModelInput
from tests.serving.flagship import FEATURES


class ThreadRecordingModel:
    """Row sums, after `delay` seconds; notes the thread of every predict."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.threads: list[str] = []

    def predict(self, data):
        self.threads.append(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        return data.sum(axis=1)


def predict_many(model, batches: int, rows: int = 1) -> list[np.ndarray]:
    batcher = MicroBatcher(lambda m, data, params: m.predict(data), max_size=64, max_wait_s=0)

    async def main():
        answers = []
        for i in range(batches):  # one after another: every submit is its own batch
            x = np.full((rows, 2), float(i))
            answers.append(await batcher.submit(model, ModelInput(x, rows, ("ndarray", 2))))
        return answers

    try:
        return asyncio.new_event_loop().run_until_complete(main())
    finally:
        batcher.close()


def test_a_cheap_model_is_predicted_on_the_event_loop_after_its_first_batch():
    model = ThreadRecordingModel()
    answers = predict_many(model, batches=5)
    assert [a.tolist() for a in answers] == [[2.0 * i] for i in range(5)]
    # The first batch has no measured cost yet and goes to the predict thread.
    assert model.threads[0].startswith("predict")
    assert model.threads[1:] == [threading.main_thread().name] * 4


def test_a_model_slower_than_the_budget_stays_off_the_event_loop():
    model = ThreadRecordingModel(delay=INLINE_BUDGET_S * 5)
    predict_many(model, batches=4)
    assert all(name.startswith("predict") for name in model.threads)


def test_a_batch_of_many_rows_goes_to_the_predict_thread_even_for_a_cheap_model():
    model = ThreadRecordingModel()
    predict_many(model, batches=3, rows=INLINE_ROWS + 1)
    assert all(name.startswith("predict") for name in model.threads)


@pytest.fixture(scope="module")
def server(start_server, stock_model):
    return start_server(["-m", str(stock_model)])


def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def post(body: bytes, *headers: str) -> bytes:
    head = [
        "POST /invocations HTTP/1.1",
        "Host: test",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


ONE_ROW = json.dumps({"dataframe_split": {"columns": FEATURES, "data": [[1] * len(FEATURES)]}})


def test_a_connection_close_request_gets_its_whole_answer_before_the_close(server):
    # Head and body are sent together at the end of the loop turn; a close
    # right after the answer must not drop what is still pending.
    reply = raw_exchange(server.url, post(ONE_ROW.encode(), "Connection: close"))
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"connection: close" in head.lower()
    assert json.loads(body)["predictions"] in ([0], [1])


def test_pipelined_requests_on_one_connection_are_answered_in_order(server):
    bad = b'{"nope": 1}'
    reply = raw_exchange(
        server.url, post(ONE_ROW.encode()) + post(bad) + post(ONE_ROW.encode(), "Connection: close")
    )
    statuses = re.findall(rb"HTTP/1\.1 (\d{3})", reply)
    assert statuses == [b"200", b"400", b"200"]


def test_a_body_sent_in_pieces_is_read_whole(server):
    body = ONE_ROW.encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        request = post(body, "Connection: close")
        cut = len(request) - len(body) // 2
        sock.sendall(request[:cut])
        time.sleep(0.2)  # the server sees the body arrive in two reads
        sock.sendall(request[cut:])
        reply = b"".join(iter(lambda: sock.recv(65536), b""))
    assert reply.startswith(b"HTTP/1.1 200")
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["predictions"] in ([0], [1])
