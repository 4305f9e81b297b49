"""Download the device's missing wheels, bundle them, cut the bundle into one part per device call, write the lock.

    python benchmarks/gpu/prepare.py              # PyTorch engine: one part, one device call
    python benchmarks/gpu/prepare.py --turbomind  # TurboMind too: its library and CUDA 12 (~12 calls)

Runs on the developer's machine (pip reaches PyPI there, not on the device).
Writes .whl/wheels/*.whl, .whl/wheels.tar and .whl/call1/, .whl/call2/, ...,
one part each, and benchmarks/gpu/wheels.lock (committed: the device checks
every part and wheel against it). Without --turbomind, lmdeploy's wheel is
rewritten without TurboMind's compiled library (91 of its 102 MiB, unused by the
PyTorch engine), stored uncompressed so that any machine writes the same bytes;
every other wheel is PyPI's own file. The same pins give the same lock anywhere.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import kit  # noqa: E402

ROOT = HERE.parent.parent
WHEEL_DIR = ROOT / ".whl"
REQUIREMENTS = HERE / "requirements-device.txt"
# TurboMind's _turbomind.so needs libcublas.so.12, libcublasLt.so.12 and libcudart.so.12 (readelf -d; symbol
# versions 'libcublas.so.12', so CUDA 13's libraries cannot stand in); the image has CUDA 13 only.
CUDA12 = ("nvidia-cuda-runtime-cu12==12.9.79", "nvidia-cublas-cu12==12.9.3.13")
# What only TurboMind loads: its extension (364 MB unpacked) and the static xgrammar it was linked with.
TURBOMIND_FILES = ("lmdeploy/turbomind/_turbomind.", "lmdeploy/turbomind/lib64/")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def read_pins(path: Path = REQUIREMENTS) -> list[str]:
    """``name==version`` lines; anything else (a range, a bare name) is an error, so the lock cannot drift."""
    pins = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise kit.KitError(f"{path}:{number}: expected name==version, got {line!r}")
        pins.append(f"{name.strip()}=={version.strip()}")
    return pins


def download(pins: list[str], folder: Path) -> list[Path]:
    if folder.exists():
        shutil.rmtree(folder)
    platform_flags = [flag for platform in PLATFORMS for flag in ("--platform", platform)]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12"]
    command += ["--implementation", "cp", *platform_flags, "-d", str(folder), *pins]
    subprocess.run(command, check=True)
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != len(pins):
        raise kit.KitError(f"{folder}: {len(wheels)} wheels for {len(pins)} pins; remove strays and rerun")
    return wheels


def without_turbomind(wheel: Path) -> Path:
    """Rewrite lmdeploy's wheel in place without TURBOMIND_FILES (and their RECORD lines), entries stored."""
    with zipfile.ZipFile(wheel) as source:
        entries = [
            (info, source.read(info)) for info in source.infolist() if not info.filename.startswith(TURBOMIND_FILES)
        ]
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as out:
        for info, data in entries:
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if not line.startswith(TURBOMIND_FILES)).encode()
            info.compress_type = zipfile.ZIP_STORED
            out.writestr(info, data)
    return wheel


def bundle(wheels: list[Path], destination: Path) -> Path:
    """An uncompressed tar with fixed metadata, so the same wheels give the same bytes."""
    with tarfile.open(destination, "w", format=tarfile.GNU_FORMAT) as tar:
        for wheel in wheels:
            info = tar.gettarinfo(str(wheel), arcname=wheel.name)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
            with wheel.open("rb") as handle:
                tar.addfile(info, handle)
    return destination


def prepare(pins: list[str], turbomind: bool, out: Path = WHEEL_DIR) -> kit.Lock:
    wheels = download(pins, out / "wheels")
    if not turbomind:
        without_turbomind(next(w for w in wheels if w.name.startswith("lmdeploy-")))
    tar = bundle(wheels, out / kit.BUNDLE_NAME)
    for old in out.glob("call*"):
        shutil.rmtree(old)
    parts = []
    for index, part in enumerate(kit.split_file(tar, out / "parts"), start=1):
        call = out / f"call{index}"
        call.mkdir()
        parts.append(kit.artifact_of(part.rename(call / part.name)))
    shutil.rmtree(out / "parts")
    return kit.Lock(tuple(kit.artifact_of(w) for w in wheels), tuple(parts), kit.artifact_of(tar))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turbomind", action="store_true", help="keep TurboMind and add CUDA 12 cuBLAS and cudart")
    args = parser.parse_args()
    pins = read_pins() + (list(CUDA12) if args.turbomind else [])
    lock = prepare(pins, args.turbomind)
    kit.LOCK_PATH.write_text(lock.to_json(), encoding="utf-8")
    total = sum(w.size for w in lock.wheels)
    print(f"{len(lock.wheels)} wheels, {total / 2**20:.1f} MiB, in {len(lock.parts)} parts: carry .whl/call1 ...")
    for wheel in sorted(lock.wheels, key=lambda w: -w.size):
        print(f"  {wheel.size / 2**20:8.1f} MiB  {wheel.name}")
    print(f"wrote {kit.LOCK_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
