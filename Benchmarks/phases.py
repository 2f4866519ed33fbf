#!/usr/bin/env python3
"""Per-phase breakdown of one `mtaguard apply --format json` run, from its "phases" (seconds per
host, timed on the control node). Prints one Markdown table row fragment:
  facts|probe|plan|journal|apply|verify|undo
each "mean / max" over the hosts, in seconds.

usage: phases.py LOG   (the run's combined output; the JSON document is its last top-level object)
"""
import json
import sys

PHASES = ["facts", "probe", "plan", "journal", "apply", "verify", "undo"]


def main() -> int:
    text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
    start = text.find("{\n")
    if start < 0:
        print("|".join(["-"] * len(PHASES)))
        return 1
    doc = json.JSONDecoder().raw_decode(text[start:])[0]
    hosts = list(doc.get("phases", {}).values())
    cells = []
    for phase in PHASES:
        values = [h.get(phase, 0.0) for h in hosts]
        if not values:
            cells.append("-")
            continue
        cells.append(f"{sum(values) / len(values):.3f} / {max(values):.3f}")
    print("|".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
