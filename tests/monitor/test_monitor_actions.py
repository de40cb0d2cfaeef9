"""Alert actions: notify, cancel a job, run the user's command with the alert JSON on stdin; outcomes recorded."""

from __future__ import annotations

import json
import sys

from workbench_plugins.monitor.actions import ActionRunner
from workbench_plugins.monitor.rules import Alert


def make_alert(actions):
    return Alert("cpu_high", "threshold", "firing", "MEDIUM", 1234.5, "CPU above 90%", "cpu.total = 97",
                 "cpu.total", 97.0, {"value": 90}, actions)


def test_notify_and_cancel_reach_their_handlers_and_are_recorded():
    outcomes, notified, cancelled = [], [], []
    runner = ActionRunner(record=outcomes.append, notify=notified.append,
                          cancel_job=lambda job, alert: cancelled.append((job, alert.rule)))
    alert = make_alert([{"type": "notify"}, {"type": "cancel_job", "job": 42}, {"type": "pause_job"}])
    runner.run(alert)
    runner.close()
    assert notified == [alert] and cancelled == [(42, "cpu_high")]
    assert [(o["action"], o["ok"]) for o in outcomes] == [("notify", True), ("cancel_job", True),
                                                          ("pause_job", False)]
    assert "no pause_job handler" in outcomes[2]["detail"]
    assert all(o["alert_id"] == alert.id for o in outcomes)


def test_command_gets_the_alert_as_json_on_stdin(tmp_path):
    out_file = tmp_path / "got.json"
    script = ("import sys, json; d = json.load(sys.stdin); "
              f"open({str(out_file)!r}, 'w').write(json.dumps(d)); print('handled', d['rule'])")
    outcomes = []
    runner = ActionRunner(record=outcomes.append)
    alert = make_alert([{"type": "command", "argv": [sys.executable, "-c", script]}])
    runner.run(alert)
    runner.wait(60)
    runner.close()
    got = json.loads(out_file.read_text())
    assert got["id"] == alert.id and got["rule"] == "cpu_high" and got["value"] == 97.0
    assert outcomes[0]["ok"] and outcomes[0]["rc"] == 0 and "handled cpu_high" in outcomes[0]["stdout"]


def test_failing_missing_and_hanging_commands_are_recorded_not_raised(tmp_path):
    outcomes = []
    runner = ActionRunner(record=outcomes.append)
    alert = make_alert([
        {"type": "command", "argv": [sys.executable, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"]},
        {"type": "command", "argv": [str(tmp_path / "no-such-program")]},
        {"type": "command", "argv": [sys.executable, "-c", "import time; time.sleep(60)"], "timeout_s": 0.5},
        {"type": "command", "argv": "rm -rf /"},                      # not a list: refused, never run
    ])
    runner.run(alert)
    runner.wait(60)
    runner.close()
    by = {o["detail"].split()[0]: o for o in outcomes}
    assert len(outcomes) == 4 and not any(o["ok"] for o in outcomes)
    assert by["exit"]["rc"] == 3 and by["exit"]["stderr"] == "boom"
    assert "could not start" in by["could"]["detail"]
    assert by["killed"]["detail"].startswith("killed after 0.5 s")
    assert any("non-empty list of strings" in o["detail"] for o in outcomes)
