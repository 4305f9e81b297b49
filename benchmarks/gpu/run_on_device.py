"""On the GPU machine: stash the carried wheel parts, install, build the tiny checkpoint, run the tool and measure.

    python3 benchmarks/gpu/run_on_device.py run --engines pytorch     # carrying .whl/call1: the whole kit
    python3 benchmarks/gpu/run_on_device.py stash                     # a bundle of several parts: each but the last

State lives in /tmp/gpu-kit, which outlives a call only while the machine stays
warm (about 30 s after each call): parts, the joined and checked bundle, the
installed packages (a --target folder on PYTHONPATH, the image's own Python
untouched) and the checkpoint. Each step runs as a child process with a time
limit; its log and the figures so far go to $OUT after every step, so a call
cut off at its limit still brings back what it measured. Exit status 0 only
when every step asked for succeeded.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kit  # noqa: E402

ROOT = HERE.parent.parent
STATE = Path("/tmp/gpu-kit")
PARTS, SITE, CHECKPOINT = STATE / "parts", STATE / "site", STATE / "tiny-internvl3"
OUT = Path(os.environ.get("OUT") or STATE / "out")
# TurboMind's extension links these (readelf -d _turbomind.so); the image's CUDA 13 libraries do not satisfy them.
TURBOMIND_LIBS = ("libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libnccl.so.2")


def stash(lock: kit.Lock) -> dict:
    """Copy this call's carried parts (checked against the lock) to PARTS; say which are still to come."""
    PARTS.mkdir(parents=True, exist_ok=True)
    wanted = {p.name: p for p in lock.parts}
    stashed = []
    for path in sorted((ROOT / ".whl").glob("call*/*")):
        if path.name in wanted:
            kit.check_artifact(path, wanted[path.name])
            shutil.copy(path, PARTS / path.name)
            stashed.append(path.name)
    return {"stashed": stashed, "missing": kit.missing_parts(PARTS, lock)}


def install(lock: kit.Lock) -> dict:
    """Join, check and pip-install the bundle into SITE once per lock (a warm machine keeps it)."""
    marker = SITE / ".kit-bundle"
    if marker.is_file() and marker.read_text() == lock.bundle.sha256:
        return {"installed": "already, from an earlier call"}
    missing = kit.missing_parts(PARTS, lock)
    if missing:
        raise kit.KitError(f"{PARTS}: parts {', '.join(missing)} not stashed: run 'stash' in the calls before")
    bundle = kit.join_parts(PARTS, lock, STATE / kit.BUNDLE_NAME)
    wheels = STATE / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    with tarfile.open(bundle) as tar:
        tar.extractall(wheels, filter="data")
    for wheel in lock.wheels:
        kit.check_artifact(wheels / wheel.name, wheel)
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    command += ["--no-cache-dir", "--upgrade", "--target", str(SITE), *sorted(map(str, wheels.glob("*.whl")))]
    subprocess.run(command, check=True)
    marker.write_text(lock.bundle.sha256)
    return {"installed": len(lock.wheels)}


def find_library(name: str) -> Path | None:
    """The first copy of a shared library in the installed wheels, the image's site-packages or the system."""
    roots = [str(SITE), *(p for p in sys.path if p.endswith("-packages"))]
    for root in roots:
        hits = sorted(glob.glob(f"{root}/nvidia/**/{name}", recursive=True))
        if hits:
            return Path(hits[0])
    cached = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in cached.splitlines():
        if line.strip().startswith(name + " ") and "=>" in line:
            return Path(line.split("=>")[1].strip())
    hits = sorted(glob.glob(f"/usr/local/cuda*/**/{name}", recursive=True))
    return Path(hits[0]) if hits else None


def turbomind_missing() -> str | None:
    """Why TurboMind cannot load here, or None."""
    if not list((SITE / "lmdeploy" / "turbomind").glob("_turbomind*.so")):
        return "the bundle has no _turbomind library: prepare.py --turbomind carries it"
    missing = [name for name in TURBOMIND_LIBS if find_library(name) is None]
    return f"{', '.join(missing)} missing: prepare.py --turbomind carries them" if missing else None


def child_env() -> dict[str, str]:
    libraries = {name: find_library(name) for name in TURBOMIND_LIBS}
    folders = dict.fromkeys(str(path.parent) for path in libraries.values() if path is not None)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SITE), str(ROOT)]), PYTHONUNBUFFERED="1")
    env["LD_LIBRARY_PATH"] = os.pathsep.join([*folders, *filter(None, [os.environ.get("LD_LIBRARY_PATH")])])
    return env


def step(name: str, command: list[str], env: dict[str, str], timeout_s: float, results: dict) -> bool:
    """Run one child with a time limit; append its log to OUT/steps.log, keep its rc, seconds and last lines."""
    log_path = STATE / "logs" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with log_path.open("w") as log:
        try:
            rc = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s)
            code: int | str = rc.returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    text = log_path.read_text(errors="replace")
    with (OUT / "steps.log").open("a") as combined:  # one file: the device returns at most 8
        combined.write(f"===== {name}: {' '.join(command)}\n{text}\n")
    lines = text.splitlines()
    results[name] = {"rc": code, "seconds": round(time.perf_counter() - started, 1), "tail": lines[-8:]}
    if code == 0 and lines and lines[-1].startswith("{"):
        results[name]["figures"] = json.loads(lines[-1])
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"{name}: rc {code}, {results[name]['seconds']} s", flush=True)
    return code == 0


def run_engine(engine: str, env: dict[str, str], deadline: float, results: dict) -> bool:
    env_file = STATE / f"env-{engine}"
    output = STATE / f"out-{engine}"
    shutil.rmtree(output, ignore_errors=True)
    env_file.write_text(kit.env_text(kit.run_settings(CHECKPOINT, engine, ROOT / "markdown_docs", output)))
    python, tool = sys.executable, str(ROOT / "generate_synthetic_data.py")

    def left() -> float:
        return max(10.0, deadline - time.monotonic())

    checked = step(f"{engine}-check", [python, tool, "--check", "--env-file", str(env_file)], env, left(), results)
    # A random-weight model may well fail the check's reply validation; only an engine that never loaded
    # makes the run and the measurement pointless.
    if "\nloaded in " not in (STATE / "logs" / f"{engine}-check.log").read_text(errors="replace"):
        return False
    ok = step(f"{engine}-run", [python, tool, "--env-file", str(env_file)], env, left() * 0.5, results)
    reports = sorted(output.glob("report-*.json"))
    if reports:
        shutil.copy(reports[-1], OUT / f"report-{engine}.json")
    saturation = [python, str(HERE / "saturation.py"), "--env-file", str(env_file)]
    return step(f"{engine}-saturation", saturation, env, left(), results) and ok and checked


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("stash", "run"))
    parser.add_argument("--engines", default="pytorch", help="comma-separated: pytorch, turbomind")
    parser.add_argument("--budget-s", type=float, default=560, help="stop starting steps after this long")
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget_s
    OUT.mkdir(parents=True, exist_ok=True)
    lock = kit.read_lock()
    results: dict = {"stash": stash(lock)}
    print(json.dumps(results["stash"]), flush=True)
    if args.action == "stash":
        return 0
    results["install"] = install(lock)
    env = child_env()
    results["libraries"] = {name: str(find_library(name)) for name in TURBOMIND_LIBS}
    ok = step("checkpoint", [sys.executable, str(HERE / "build_checkpoint.py"), str(CHECKPOINT)], env, 120, results)
    for engine in args.engines.split(","):
        why = turbomind_missing() if engine == "turbomind" else None
        if why is not None:
            results["turbomind"] = f"skipped: {why}"
            ok = False
            continue
        ok = run_engine(engine, env, deadline, results) and ok
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    summary = {
        k: {kk: vv for kk, vv in v.items() if kk != "tail"} if isinstance(v, dict) else v for k, v in results.items()
    }
    print(json.dumps(summary, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
