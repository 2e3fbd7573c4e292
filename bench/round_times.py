#!/usr/bin/env python3
"""Round times of a finished federated job, from `gf status ID --json`.

Prints "MEDIAN MEAN" in milliseconds over the job's rounds: each round's
duration_s, from its opening to its close. A round that opens at once opens
at the instant the one before closes, so these durations tile the job; the
script checks that against the store's millisecond started_at stamps and
fails when they disagree (rounds that waited between them: DP, or sites
missing), where the durations would not be the times between openings.

Usage: bench/round_times.py STATUS_JSON
"""
import datetime
import json
import statistics
import sys


def main():
    rounds = json.load(open(sys.argv[1]))["rounds"]
    if len(rounds) < 2:
        sys.exit("round_times.py: fewer than 2 rounds")
    ms = [1000 * r["duration_s"] for r in rounds]
    opened = [datetime.datetime.strptime(r["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() for r in rounds]
    gap = 1000 * (opened[-1] - opened[0]) - sum(ms[:-1])
    if abs(gap) > 2 + 0.01 * len(rounds):
        sys.exit("round_times.py: the rounds do not tile the job (%.1f ms between them)" % gap)
    print("%.2f %.2f" % (statistics.median(ms), statistics.mean(ms)))


if __name__ == "__main__":
    main()
