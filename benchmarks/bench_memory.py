"""Peak memory of a whole run as the corpus grows, against a loopback fake server.

    python benchmarks/bench_memory.py                      # 2.4k, 9.6k and 50k requests
    python benchmarks/bench_memory.py --sizes 1x5 2x15     # copies x question types

Builds a corpus of copies of the shared documents (``../shared/corpus``), starts
the scripted OpenAI-compatible server of ``tests/fault_server.py`` in its own
process (it answers from each request's schema and prompt), runs the real CLI
(``BACKEND=openai``, ``MAX_CONCURRENCY=64``) in a child process, and prints the
child's peak RSS (``wait4``), wall time and the planned request count for each
size. A size is ``<copies>x<question types>``: the first N of the 15 types.
The target (issue 13): under 1.5 GB at 50k requests, and flat from 10k on.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.question_types import QuestionType  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "markdown_docs"
SERVER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.fault_server import FaultServer
with FaultServer([]) as server:
    print(server.base_url, flush=True)
    while True:
        time.sleep(3600)
"""


def build_corpus(folder: Path, copies: int) -> None:
    """``copies`` renamed copies of every shared document, each with its own figure folder.

    Copy 0 is the document itself; every later copy has its letters permuted
    (a permutation per copy; frontmatter and placeholders untouched), so its
    questions are new rather than near-duplicates the gate drops: the kept
    pairs, and what writing them costs, grow with the corpus as a real one's do.
    """
    for copy in range(copies):
        for source in sorted(CORPUS.glob("*.md")):
            name = f"{source.stem}-{copy}"
            (folder / f"{name}.md").write_text(disguise(source.read_text(encoding="utf-8"), copy), encoding="utf-8")
            if (CORPUS / source.stem).is_dir():
                shutil.copytree(CORPUS / source.stem, folder / name)


def disguise(text: str, copy: int) -> str:
    if copy == 0:
        return text
    letters = list(string.ascii_lowercase)
    random.Random(copy).shuffle(letters)
    table = str.maketrans(string.ascii_lowercase + string.ascii_uppercase, "".join(letters) + "".join(letters).upper())
    _, frontmatter, body = text.split("---\n", 2) if text.startswith("---\n") else ("", None, text)
    parts = re.split(r"(\{\{[^}]*\}\})", body)  # placeholders stay as they are
    body = "".join(part if part.startswith("{{") else part.translate(table) for part in parts)
    return body if frontmatter is None else f"---\n{frontmatter}---\n{body}"


def run_once(copies: int, types: int, verify: str, keep: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    docs, out = work / "docs", work / "out"
    docs.mkdir()
    build_corpus(docs, copies)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        base_url = server.stdout.readline().strip()
        env = {
            **os.environ,
            "BACKEND": "openai",
            "API_BASE_URL": base_url,
            "MODEL": "fake",
            "MAX_CONCURRENCY": "64",
            "MARKDOWN_DOCS_DIR": str(docs),
            "OUTPUT_DIR": str(out),
            "QUESTION_TYPES": ",".join(t.value for t in list(QuestionType)[:types]),
            "VERIFY": verify,
            "PROGRESS": "off",
            "LOG_LEVEL": "WARNING",
        }
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "generate_synthetic_data.py", "--env-file", os.devnull],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        errors = child.stderr.read().decode(errors="replace").strip().splitlines()[-3:]
    finally:
        server.kill()
        server.wait()
    reports = sorted(out.glob("report-*.json"))
    totals = json.loads(reports[-1].read_text())["totals"] if reports else {}
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "size": f"{copies}x{types}",
        "requests": totals.get("requests"),
        "pairs_kept": totals.get("pairs_accepted"),
        "exit": os.waitstatus_to_exitcode(status),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "wall_s": round(wall, 1),
        **({"stderr_tail": errors} if os.waitstatus_to_exitcode(status) not in (0,) else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["2x15", "8x15", "42x15"], help="copies x question types")
    parser.add_argument("--verify", default="none", help="VERIFY for the runs (default none: generation only)")
    parser.add_argument("--keep", action="store_true", help="keep the corpus and output folders")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS}: the shared corpus is needed")
    for size in args.sizes:
        copies, types = (int(x) for x in size.split("x"))
        print(json.dumps(run_once(copies, types, args.verify, args.keep)), flush=True)


if __name__ == "__main__":
    main()
