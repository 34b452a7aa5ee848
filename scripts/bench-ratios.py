#!/usr/bin/env python3
"""Prints criterion's mean estimates of one benchmark group and their ratios to a baseline.

Usage: scripts/bench-ratios.py GROUP BASELINE   (after `cargo bench -p benches --bench ...`)

Reads criterion's output where criterion writes it: $CRITERION_HOME, else
$CARGO_TARGET_DIR/criterion, else target/criterion in the repository.
"""
import json
import os
import pathlib
import sys

group, baseline = sys.argv[1], sys.argv[2]
if os.environ.get("CRITERION_HOME"):
    criterion = pathlib.Path(os.environ["CRITERION_HOME"])
elif os.environ.get("CARGO_TARGET_DIR"):
    criterion = pathlib.Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
else:
    criterion = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
root = criterion / group
if not root.is_dir():
    sys.exit(f"no criterion results in {root}: run `cargo bench -p benches --bench ...` first")
means = {}
for est in sorted(root.glob("*/new/estimates.json")):
    data = json.loads(est.read_text())
    means[est.parent.parent.name] = (data["mean"]["point_estimate"], data["median"]["point_estimate"])
base_mean, base_median = means[baseline]
print(f"| {group} | mean | median | ratio to {baseline} (mean) | (median) |")
print("|---|---|---|---|---|")
for name, (mean, median) in means.items():
    print(f"| {name} | {mean/1000:.2f} µs | {median/1000:.2f} µs | {mean/base_mean:.3f} | {median/base_median:.3f} |")
