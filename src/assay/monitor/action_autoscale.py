"""The ``autoscale`` action: the autoscaling webhook and the autoscaling command.

:class:`AutoscaleActions` queues the webhook and claims the command inside the firing's
transaction; the command runs after it (an argv list from the spec, never a shell).
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

from sqlalchemy import Connection, Engine

from assay.monitor import webhooks
from assay.monitor.action_base import ActionBase, ActionResult, _Fire

_TAIL = 2000


class AutoscaleActions(ActionBase):
    """The ``autoscale`` action; :class:`ActionRunner <assay.monitor.actions.ActionRunner>`
    sets the attributes."""

    command_timeout: float

    def _autoscale(self, conn: Connection, fire: _Fire) -> tuple[list[ActionResult], int | None]:
        """Queue the autoscaling webhook and claim the command; the command runs after the
        transaction (:meth:`_run_command`)."""
        url = self.monitor.webhooks.autoscale
        command = self.monitor.autoscale_command
        base = f"{fire.incident.id}:autoscale"
        if not url and not command:
            seq, before = self._claim(conn, fire, "autoscale", base)
            if seq is None:
                assert before is not None
                return [before], None
            detail = {
                "webhook": None,
                "command": None,
                "error": "neither monitor.webhooks.autoscale nor monitor.autoscale_command is set",
            }
            return [self._finish(conn, fire, "autoscale", base, seq, "failed", detail)], None
        results: list[ActionResult] = []
        if url:
            payload = {
                "kind": "assay.autoscale",
                "direction": "up",
                "text": f"Scale up: {self._text(fire)}",
                "incident": self._summary(fire),
                "signal": fire.rule.signal,
                "metrics": dict(fire.obs.metrics),
                "window": self._window(fire),
            }
            found = self._webhook_action(
                conn,
                fire,
                "autoscale",
                f"{base}:webhook",
                url,
                "monitor.webhooks.autoscale",
                payload,
                {},
                local_effect=False,
            )
            assert found is not None
            results.append(found)
        command_seq: int | None = None
        if command:
            seq, before = self._claim(conn, fire, "autoscale", f"{base}:command")
            if seq is None:
                assert before is not None
                results.append(before)
            else:
                command_seq = seq
        return results, command_seq

    def _run_command(self, engine: Engine, fire: _Fire, seq: int) -> ActionResult:
        argv = list(self.monitor.autoscale_command or ())
        key = f"{fire.incident.id}:autoscale:command"
        env = {
            **os.environ,
            "ASSAY_INCIDENT": str(fire.incident.id),
            "ASSAY_RULE": fire.rule.name,
            "ASSAY_SIGNAL": fire.rule.signal,
            "ASSAY_SUBJECT": fire.obs.subject,
            "ASSAY_SEVERITY": fire.incident.severity,
            "ASSAY_METRICS": webhooks.dumps(dict(fire.obs.metrics)),
        }
        detail: dict[str, Any] = {"command": argv, "timeout": self.command_timeout}
        began = time.monotonic()
        outcome = "failed"
        try:
            done = subprocess.run(  # an argv list from the spec, never a shell
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.command_timeout,
                check=False,
                env=env,
            )
        except subprocess.TimeoutExpired as exc:
            detail.update(
                error=f"the command did not finish within {self.command_timeout:g} s; "
                "it was killed",
                stdout=_tail(exc.stdout),
                stderr=_tail(exc.stderr),
                retryable=True,
            )
        except OSError as exc:
            detail.update(error=f"the command could not start: {exc}", retryable=True)
        else:
            detail.update(
                exit_code=done.returncode, stdout=_tail(done.stdout), stderr=_tail(done.stderr)
            )
            if done.returncode == 0:
                outcome = "ok"
            else:
                detail.update(error=f"the command exited with {done.returncode}", retryable=True)
        detail["seconds"] = round(time.monotonic() - began, 3)
        with engine.begin() as conn:
            return self._finish(conn, fire, "autoscale", key, seq, outcome, detail)


def _tail(data: bytes | str | None) -> str:
    if data is None:
        return ""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text[-_TAIL:]
