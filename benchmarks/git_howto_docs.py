"""Narrative how-tos from Git's own documentation, as input documents for the labelled sets
``labelled_qwen1.5b_git_howto_n1.jsonl`` to ``_n5.jsonl``: engineers telling, in the first person, how they
rebased, reverted and recovered a corrupt pack ("I started with an fsck, ..."), and (``_n4``, ``_n5``) how to
keep a project's first-parent history, use the subtree merge strategy, revert a faulty merge and write an update
hook. They are GPL-2.0 and not shipped; this builds them from Debian's ``git-doc`` package, which the registry
serves:

    apt-get download git-doc && dpkg-deb -x git-doc_*.deb /tmp/git-doc
    python benchmarks/git_howto_docs.py /tmp/git-doc/usr/share/doc/git-doc/howto /tmp/git_howto
    python benchmarks/bench_labelled_pairs.py --docs /tmp/git_howto \\
        --set benchmarks/data/labelled_qwen1.5b_git_howto_n1.jsonl \\
        --set benchmarks/data/labelled_qwen1.5b_git_howto_n2.jsonl ...  # and so on to _n5

The set was made from git-doc 1:2.39.5-0+deb12u3. Each mail-style header block is dropped, the title underlined
with "=" becomes the heading, "-----" delimited blocks become code fences, "****" sidebar rules are dropped and
AsciiDoc links keep their text.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HOWTOS = {  # file in git-doc's howto/ -> (document name, author)
    "rebase-from-internal-branch.txt": ("git_rebase_internal_branch", "Junio C Hamano"),
    "recover-corrupted-object-harder.txt": ("git_recover_corrupted_object", "Jeff King"),
    "revert-branch-rebase.txt": ("git_revert_branch_rebase", "Junio C Hamano"),
    "separating-topic-branches.txt": ("git_separating_topic_branches", "Junio C Hamano"),
    "rebuild-from-update-hook.txt": ("git_rebuild_from_update_hook", "Junio C Hamano"),
    "setup-git-server-over-http.txt": ("git_server_over_http", "Rutger Nijlunsing"),
    "recover-corrupted-blob-object.txt": ("git_recover_corrupted_blob", "Linus Torvalds"),
    "keep-canonical-history-correct.txt": ("git_keep_canonical_history", "Junio C Hamano"),
    "using-merge-subtree.txt": ("git_merge_subtree", "Sean"),
    "revert-a-faulty-merge.txt": ("git_revert_faulty_merge", "Linus Torvalds, Junio C Hamano"),
    "update-hook-example.txt": ("git_update_hook_example", "Junio C Hamano, Carl Baldwin"),
}


def convert(text: str, author: str) -> str:
    """One how-to's AsciiDoc as a markdown document with YAML frontmatter."""
    lines = text.split("\n")
    lines = lines[lines.index("") + 1 :]  # the mail headers end at the first blank line
    out: list[str] = []
    title, code = None, False
    for i, line in enumerate(lines):
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if re.fullmatch(r"-{4,}", line.strip()):
            out.append("```")
            code = not code
        elif code:
            out.append(line)
        elif re.fullmatch(r"={3,}", line.strip()) or re.fullmatch(r"\*{4,}", line.strip()):
            continue
        elif line.strip() and re.fullmatch(r"={3,}", following):
            title = title or line.strip()
            out.append(f"# {line.strip()}")
        else:
            line = re.sub(r"linkgit:([\w-]+)\[(\d)\]", r"\1(\2)", line)
            out.append(re.sub(r"link:[^\[]+\[([^\]]*)\]", r"\1", line))
    front = f'---\ntitle: "{title}"\nauthor: "{author}"\nsource: git-doc 2.39.5 (Documentation/howto), GPL-2.0\n---\n\n'
    return front + "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("howto", type=Path, help="git-doc's howto folder")
    parser.add_argument("out", type=Path, help="folder to write the documents to (created)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for filename, (name, author) in HOWTOS.items():
        target = args.out / f"{name}.md"
        if target.exists():
            print(f"{target}: exists, left as it is", file=sys.stderr)
            continue
        target.write_text(convert((args.howto / filename).read_text(), author))
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
