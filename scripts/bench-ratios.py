#!/usr/bin/env python3
"""Prints criterion's mean estimates of one benchmark group and their ratios to a baseline.

Usage: scripts/bench-ratios.py GROUP BASELINE   (after `cargo bench -p benches --bench ...`)
"""
import json
import pathlib
import sys

group, baseline = sys.argv[1], sys.argv[2]
root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion" / group
means = {}
for est in sorted(root.glob("*/new/estimates.json")):
    data = json.loads(est.read_text())
    means[est.parent.parent.name] = (data["mean"]["point_estimate"], data["median"]["point_estimate"])
base_mean, base_median = means[baseline]
print(f"| {group} | mean | median | ratio to {baseline} (mean) | (median) |")
print("|---|---|---|---|---|")
for name, (mean, median) in means.items():
    print(f"| {name} | {mean/1000:.2f} µs | {median/1000:.2f} µs | {mean/base_mean:.3f} | {median/base_median:.3f} |")
