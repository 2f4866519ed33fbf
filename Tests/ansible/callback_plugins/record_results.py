# -*- coding: utf-8 -*-
# For AnsibleCollectionTests only: writes every task result and the play recap stats to the
# JSON file named by MTAGUARD_TEST_RESULTS, beside the default stdout callback (ansible-core
# ships no json callback of its own).

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: record_results
type: aggregate
short_description: Task results and stats as one JSON file, for tests
description:
  - Writes C(results) (one entry per host and task) and C(stats) to the file in C(MTAGUARD_TEST_RESULTS).
requirements:
  - enable with ANSIBLE_CALLBACKS_ENABLED=record_results
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "record_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.results = []

    def _record(self, result, status):
        self.results.append({
            "host": result._host.get_name(),
            "task": result._task.get_name(),
            "status": status,
            "result": json.loads(json.dumps(result._result, default=str)),
        })

    def v2_runner_on_ok(self, result):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed.keys())
        summary = {h: stats.summarize(h) for h in hosts}
        path = os.environ["MTAGUARD_TEST_RESULTS"]
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"results": self.results, "stats": summary}, f, indent=1, ensure_ascii=False)
