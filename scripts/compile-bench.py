#!/usr/bin/env python3
"""Compile time of N secured handlers against the same handlers routed by hand, without auth.

Generates a standalone cargo workspace (its own `[workspace]`, not a member of this repo's) with
one library crate per variant and N:

- `secured_N`: N handlers with `#[requires]` + `#[route]`, all listed in one
  `#[derive(SecureRouter)]`, and `pub fn app(manager) -> axum::Router` that builds
  `Api::router().with_state(manager)`;
- `plain_N`: the same handlers without any auth attribute, routed by hand with
  `axum::Router::new().route(...)`;
- `handlers_N` (only with `--variants ...,handlers`): the secured handlers (`#[requires]` +
  `#[route]`) routed by hand, without `SecureRouter`, to separate the cost of the handler
  attributes from the cost of the derive.

Dependencies (`auth-runtime` by path, `axum` and `tokio` as in the root `[workspace.dependencies]`,
versions pinned by a copy of the root `Cargo.lock`) are built once; then, alternating
secured, plain, secured, plain, ... (`--pairs` rounds), each crate's `src/lib.rs` is touched and
`cargo build -p <crate>` is timed as a whole process. By default `CARGO_INCREMENTAL=0`, so each
timed build compiles the crate from scratch (what a clean or CI build pays for it, dependencies
prebuilt); `--incremental` times the default dev-profile rebuild after a touch instead.
Unless `--no-count`, one more build of each `secured_N` with `AUTH_MACROS_DEBUG=1` counts what the
macros emit, and the size of each crate's `.rmeta` is reported.

Everything goes to `compile-bench/` in the cargo target directory (`$CARGO_TARGET_DIR`, else
`target/` of this repo): the generated workspace in `compile-bench/ws` (removed at the end unless
`--keep`) and its shared target directory in `compile-bench/target` (kept, so dependencies are
not rebuilt on the next run).

Usage: python3 scripts/compile-bench.py --n 50,200 --pairs 5 [--release] [--keep]
       [--incremental] [--check] [--variants secured,plain,handlers] [--no-count] [--passes]
"""
import argparse
import datetime
import os
import pathlib
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from typing import NamedTuple

REPO = pathlib.Path(__file__).resolve().parent.parent
VARIANTS = ("secured", "plain", "handlers")


def toml_value(v):
    """A TOML inline value (the subset that `[workspace.dependencies]` and profiles use)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"unsupported TOML value {v!r}")


def profile_tables(profiles, prefix="profile"):
    """The root `[profile.*]` tables, flattened back to TOML text."""
    out = []
    for name, table in profiles.items():
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in table.items() if isinstance(v, dict)}
        key = f"{prefix}.{toml_key(name)}"
        if scalars or not nested:
            out.append(f"[{key}]")
            out.extend(f"{k} = {toml_value(v)}" for k, v in scalars.items())
            out.append("")
        out.extend(profile_tables(nested, key))
    return out


def toml_key(k):
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else toml_value(k)


def handler_kind(i):
    """(method, scope verb, takes the caller): a little variety across the handlers."""
    method = "POST" if i % 4 == 1 else "GET"
    verb = "write" if method == "POST" else "read"
    return method, verb, i % 3 == 2


def secured_handlers(n):
    out = []
    for i in range(n):
        method, verb, caller = handler_kind(i)
        args = "Path(id): Path<u64>, user: Principal" if caller else "Path(id): Path<u64>"
        body = 'format!("{id} {}", user.subject())' if caller else 'format!("{id}")'
        out.append(
            f'#[requires("res{i}:{verb}")]\n'
            f'#[route({method}, "/r{i}/{{id}}")]\n'
            f"async fn h{i}({args}) -> String {{\n    {body}\n}}\n"
        )
    return out


def plain_handlers(n):
    # The caller-taking handlers take another extractor (the headers) instead of `Principal`,
    # so both variants have the same number of extractors and the same bodies' shape.
    out = []
    for i in range(n):
        _, _, caller = handler_kind(i)
        args = "Path(id): Path<u64>, headers: HeaderMap" if caller else "Path(id): Path<u64>"
        body = 'format!("{id} {}", headers.len())' if caller else 'format!("{id}")'
        out.append(f"async fn h{i}({args}) -> String {{\n    {body}\n}}\n")
    return out


def hand_routes(n, indent="        "):
    lines = []
    for i in range(n):
        method, _, _ = handler_kind(i)
        lines.append(f'{indent}.route("/r{i}/{{id}}", {method.lower()}(h{i}))')
    return "\n".join(lines)


def lib_source(variant, n):
    head = f"//! Generated by scripts/compile-bench.py: {variant}, {n} handlers.\n\n"
    if variant == "secured":
        routes = ", ".join(f"h{i}" for i in range(n))
        return (
            head
            + "use auth_runtime::prelude::*;\nuse axum::extract::Path;\n\n"
            + "\n".join(secured_handlers(n))
            + "\n#[derive(SecureRouter)]\n"
            + f"#[secure_router(routes({routes}))]\npub struct Api;\n\n"
            + "/// Every handler, routed and secured.\n"
            + "pub fn app(manager: AuthManager) -> axum::Router {\n"
            + "    Api::router().with_state(manager)\n}\n"
        )
    if variant == "handlers":
        return (
            head
            + "use auth_runtime::prelude::*;\nuse axum::extract::Path;\n"
            + "#[allow(unused_imports)]\nuse axum::routing::{get, post};\n\n"
            + "\n".join(secured_handlers(n))
            + "\n/// Every secured handler, routed by hand (no `SecureRouter`).\n"
            + "pub fn app(manager: AuthManager) -> axum::Router {\n"
            + "    axum::Router::new()\n"
            + hand_routes(n)
            + "\n        .with_state(manager)\n}\n"
        )
    return (
        head
        + "use axum::extract::Path;\nuse axum::http::HeaderMap;\n"
        + "#[allow(unused_imports)]\nuse axum::routing::{get, post};\n\n"
        + "\n".join(plain_handlers(n))
        + "\n/// Every handler, routed by hand, without auth.\n"
        + "pub fn app() -> axum::Router {\n"
        + "    axum::Router::new()\n"
        + hand_routes(n)
        + "\n}\n"
    )


def generate(ws, crates):
    root = tomllib.loads((REPO / "Cargo.toml").read_text())
    deps = root["workspace"]["dependencies"]
    wanted = {}
    for name in ("auth-runtime", "axum", "tokio"):
        spec = dict(deps[name]) if isinstance(deps[name], dict) else {"version": deps[name]}
        if "path" in spec:
            spec["path"] = str((REPO / spec["path"]).resolve())
        wanted[name] = spec
    pkg = root["workspace"]["package"]
    lines = [
        "# Generated by scripts/compile-bench.py; not a member of the repository's workspace.",
        "[workspace]",
        'resolver = "3"',
        "members = [" + ", ".join(toml_value(c) for c, _, _ in crates) + "]",
        "",
        "[workspace.dependencies]",
    ]
    lines += [f"{k} = {toml_value(v)}" for k, v in wanted.items()]
    lines.append("")
    # Same profiles as the repository (its per-package opt-levels for dependencies).
    lines += profile_tables(root.get("profile", {}))
    ws.mkdir(parents=True, exist_ok=True)
    write_if_changed(ws / "Cargo.toml", "\n".join(lines) + "\n")
    if not (ws / "Cargo.lock").exists():
        # The repository's resolution: same versions as the main workspace (cargo prunes the rest).
        shutil.copy(REPO / "Cargo.lock", ws / "Cargo.lock")
    for name, variant, n in crates:
        d = ws / name
        (d / "src").mkdir(parents=True, exist_ok=True)
        manifest = [
            "[package]",
            f"name = {toml_value(name)}",
            'version = "0.0.0"',
            f"edition = {toml_value(pkg['edition'])}",
            "publish = false",
            "",
            "[dependencies]",
            "auth-runtime.workspace = true",
            "axum.workspace = true",
            "tokio.workspace = true",
            "",
        ]
        write_if_changed(d / "Cargo.toml", "\n".join(manifest))
        write_if_changed(d / "src" / "lib.rs", lib_source(variant, n))


def write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


class Timing(NamedTuple):
    wall: float
    cpu: float


class Cargo:
    def __init__(self, ws, target, release, incremental):
        self.ws = ws
        self.env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_TERM_COLOR="never")
        if not incremental:
            self.env["CARGO_INCREMENTAL"] = "0"
        self.profile = ["--release"] if release else []

    def run(self, args, extra_env=None, check=True):
        env = dict(self.env, **(extra_env or {}))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        p = subprocess.run(
            ["cargo", *args, *self.profile],
            cwd=self.ws,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time of cargo and every rustc it ran (all threads): less sensitive than the
        # wall-clock time to the other tenants of a shared machine.
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if check and p.returncode != 0:
            sys.stderr.write(p.stderr[-20000:])
            sys.exit(f"`cargo {' '.join(args)}` failed in {self.ws}")
        return Timing(elapsed, cpu), p

    def rebuild(self, crate, command="build", extra_env=None):
        """Touches the crate's source and times `cargo <command> -p <crate>`."""
        os.utime(self.ws / crate / "src" / "lib.rs")
        timing, p = self.run([command, "-p", crate], extra_env)
        if not re.search(rf"(Compiling|Checking) {crate} ", p.stderr):
            sys.exit(f"`cargo {command} -p {crate}` did not recompile {crate}:\n{p.stderr}")
        return timing, p


PASSES = (
    ("expand_crate", "macro expansion (proc macros run, output parsed)"),
    ("resolve_crate", "name resolution"),
    ("type_check_crate", "type checking, incl. MIR building and `const` evaluation"),
    ("MIR_borrow_checking", "borrow checking"),
    ("monomorphization_collector_graph_walk", "monomorphization collection"),
    ("generate_crate_metadata", "metadata (`.rmeta`), includes the collection above"),
    ("codegen_crate", "code generation to LLVM IR"),
    ("LLVM_passes", "LLVM (overlaps the line above)"),
    ("total", "total rustc"),
)


def time_passes(cargo, crate, command):
    """One rebuild with rustc's `-Z time-passes`, for this crate only: a workspace wrapper adds
    the flag and `RUSTC_BOOTSTRAP=1` (so stable rustc accepts it) without touching the
    dependencies' fingerprints. Returns {pass: seconds}."""
    wrapper = cargo.ws / "rustc-time-passes.sh"
    if not wrapper.exists():
        wrapper.write_text('#!/bin/sh\nRUSTC_BOOTSTRAP=1 exec "$@" -Z time-passes\n')
        wrapper.chmod(0o755)
    _, p = cargo.rebuild(crate, command, {"RUSTC_WORKSPACE_WRAPPER": str(wrapper)})
    out = {}
    for m in re.finditer(r"^time:\s+([\d.]+);.*\s(\S+)$", p.stderr, flags=re.M):
        out[m.group(2)] = float(m.group(1))  # a pass may repeat: keep the last (outermost)
    return out


def count_items(cargo, crate, command):
    """Rebuilds with AUTH_MACROS_DEBUG=1 and counts what each macro emitted."""
    _, p = cargo.rebuild(crate, command, {"AUTH_MACROS_DEBUG": "1"})
    parts = re.split(r"^--- auth-macros: (\w+) ---$", p.stderr, flags=re.M)
    stats = {}
    for kind, text in zip(parts[1::2], parts[2::2]):
        s = stats.setdefault(kind, {"expansions": 0, "const_items": 0, "bytes": 0})
        s["expansions"] += 1
        s["const_items"] += len(re.findall(r"\bconst _ :", text))
        s["bytes"] += len(text.strip())
    return stats


def rmeta_size(target, release, crate):
    """Size of the crate's newest `.rmeta` (what every dependent crate loads)."""
    deps = target / ("release" if release else "debug") / "deps"
    files = sorted(deps.glob(f"lib{crate}-*.rmeta"), key=lambda f: f.stat().st_mtime)
    return files[-1].stat().st_size if files else 0


def fmt_s(x):
    return f"{x:.2f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", default="50,200", help="handler counts, comma-separated (50,200)")
    ap.add_argument("--pairs", type=int, default=5, help="alternating rounds per N (5)")
    ap.add_argument("--release", action="store_true", help="time the release profile")
    ap.add_argument("--incremental", action="store_true",
                    help="time the incremental rebuild after a touch (default: from scratch)")
    ap.add_argument("--check", action="store_true",
                    help="time `cargo check` (front end and const evaluation, no code generation)")
    ap.add_argument("--variants", default="secured,plain",
                    help="secured,plain[,handlers]; ratios are to plain")
    ap.add_argument("--keep", action="store_true", help="keep the generated crates")
    ap.add_argument("--no-count", action="store_true",
                    help="skip counting the items the macros emit (one extra build per N)")
    ap.add_argument("--passes", action="store_true",
                    help="after timing, one rebuild of each crate with rustc's -Z time-passes")
    ap.add_argument("--out", type=pathlib.Path,
                    help="directory for ws/ and target/ (default: <target dir>/compile-bench)")
    args = ap.parse_args()

    ns = [int(x) for x in args.n.split(",") if x.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "plain" not in variants or any(v not in VARIANTS for v in variants):
        sys.exit(f"--variants: choose among {', '.join(VARIANTS)}, including plain")
    if args.pairs < 1 or not ns or min(ns) < 1:
        sys.exit("--pairs and every --n must be at least 1")
    base = args.out or (
        pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target") / "compile-bench"
    )
    base = base.resolve()
    ws, target = base / "ws", base / "target"
    crates = [(f"{v}_{n}", v, n) for n in ns for v in variants]
    command = "check" if args.check else "build"
    t0 = time.perf_counter()

    generate(ws, crates)
    cargo = Cargo(ws, target, args.release, args.incremental)
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"workspace {ws}\ntarget    {target}\n{rustc}; {os.cpu_count()} CPUs; "
          f"{platform.system()} {platform.machine()}", flush=True)

    # Dependencies (and every generated crate once: they must compile as generated).
    t = time.perf_counter()
    cargo.run([command, "--workspace"])
    print(f"dependencies and generated crates built in {time.perf_counter() - t:.0f} s", flush=True)
    # No-op floor: cargo's own work when nothing is rebuilt (part of every timed build).
    floor = statistics.median(cargo.run([command, "-p", crates[0][0]])[0].wall for _ in range(3))
    for name, _, _ in crates:  # warm-up: one untimed rebuild each
        cargo.rebuild(name, command)

    counts = {}
    if not args.no_count and "secured" in variants:
        for n in ns:
            counts[n] = count_items(cargo, f"secured_{n}", command)

    times = {(v, n): [] for v in variants for n in ns}
    order = ["secured"] + [v for v in variants if v not in ("secured", "plain")] + ["plain"]
    order = [v for v in order if v in variants]
    for n in ns:
        for r in range(args.pairs):
            for v in order:
                timing, _ = cargo.rebuild(f"{v}_{n}", command)
                times[(v, n)].append(timing)
            line = ", ".join(
                f"{v} {times[(v, n)][-1].wall:.2f} s (CPU {times[(v, n)][-1].cpu:.2f} s)"
                for v in order
            )
            print(f"N={n} round {r + 1}/{args.pairs}: {line}", flush=True)

    mode = ("release" if args.release else "dev") + (
        ", incremental rebuild after touch" if args.incremental else ", crate built from scratch"
    ) + (", `cargo check`" if args.check else "")
    today = datetime.date.today().isoformat()
    print(f"\n{today}, {rustc}, {os.cpu_count()} CPUs, {mode}, {args.pairs} pairs; "
          f"cargo no-op floor {fmt_s(floor)} (included in every time)\n")
    others = [v for v in order if v != "plain"]
    for metric, title in (("wall", "Wall-clock time of `cargo " + command + " -p <crate>`"),
                          ("cpu", "CPU time (user + system, cargo and rustc)")):
        print(f"{title}:\n")
        head = ["N", "plain (median)"]
        for v in others:
            head += [f"{v} (median)", f"{v} / plain (median of paired ratios)", "(min–max)"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for n in ns:
            plain = [getattr(t, metric) for t in times[("plain", n)]]
            row = [str(n), fmt_s(statistics.median(plain))]
            for v in others:
                mine = [getattr(t, metric) for t in times[(v, n)]]
                ratios = [a / b for a, b in zip(mine, plain)]
                row += [fmt_s(statistics.median(mine)),
                        f"{statistics.median(ratios):.2f}×",
                        f"{min(ratios):.2f}–{max(ratios):.2f}"]
            print("| " + " | ".join(row) + " |")
        print()

    if counts:
        print("What the macros emit in `secured_N` (AUTH_MACROS_DEBUG=1; bytes of printed "
              "tokens) and the crates' metadata:\n")
        print("| N | handler expansions | handler bytes | SecureRouter `const _` items "
              "| SecureRouter bytes | secured `.rmeta` | plain `.rmeta` |")
        print("|---|---|---|---|---|---|---|")
        for n, s in counts.items():
            h = s.get("handler", {"expansions": 0, "bytes": 0})
            r = s.get("SecureRouter", {"const_items": 0, "bytes": 0})
            sizes = [rmeta_size(target, args.release, f"{v}_{n}") / 1e6
                     for v in ("secured", "plain")]
            print(f"| {n} | {h['expansions']} | {h['bytes']:,} | {r['const_items']:,} "
                  f"| {r['bytes']:,} | {sizes[0]:.1f} MB | {sizes[1]:.1f} MB |")

    if args.passes:
        passes = {name: time_passes(cargo, name, command) for name, _, _ in crates}
        names = [name for name, _, _ in crates]
        print("rustc phases, one rebuild each (`-Z time-passes`, seconds; phases overlap):\n")
        print("| phase | " + " | ".join(f"`{c}`" for c in names) + " |")
        print("|---|" + "---|" * len(names))
        for key, label in PASSES:
            cells = [f"{passes[c][key]:.2f}" if key in passes[c] else "—" for c in names]
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()

    if not args.keep:
        shutil.rmtree(ws)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s"
          + ("" if args.keep else f"; generated crates removed (--keep keeps {ws})"))


if __name__ == "__main__":
    main()
