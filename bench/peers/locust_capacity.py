"""Locust's FastHttpUser for bench/capacity.py: GET the static JSON file as fast as it can.

Run headless by the harness (``locust -f bench/peers/locust_capacity.py --headless -u N -r N
-t 10s --host http://127.0.0.1:PORT --csv PREFIX``): every user sends its next request as
soon as the previous one is answered (``constant(0)``: no think time), on its own keep-alive
connection (geventhttpclient). The path comes from ``CAPACITY_PATH`` (default ``/ok.json``).
"""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

PATH = os.environ.get("CAPACITY_PATH", "/ok.json")


class StaticJson(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get(PATH)
