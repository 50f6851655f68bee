"""Write the DRCD tuning sample: 60 DRCD dev questions drawn (seed 11) from those outside the
fixed sample of 200 that `rag eval --drcd ... --sample 200` answers (seed 0), so the rules can
be tuned on DRCD while the 200 stay a measurement.

    python eval/dev/drcd_tune.py QUESTIONS.jsonl OUT.jsonl [--second]

--second writes a second dev sample of 100 (seed 12), none of the 200 nor of the first 60.

QUESTIONS.jsonl: the eval file `rag eval --drcd ../shared/datasets/drcd/DRCD_dev.json` exports
(`$RAG_HOME/datasets/DRCD_dev-all/questions.jsonl`, 3,524 questions); run with its index
(`.../DRCD_dev-all/index`).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path


def main(source: Path, out: Path, second: bool = False) -> None:
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    fixed = set(random.Random(0).sample(range(len(lines)), 200))  # as rag.evaluate.runner
    rest = [i for i in range(len(lines)) if i not in fixed]
    chosen = sorted(random.Random(11).sample(rest, 60))
    if second:  # 100 more (seed 12), none of the fixed 200 nor of the first 60
        taken = set(chosen)
        chosen = sorted(random.Random(12).sample([i for i in rest if i not in taken], 100))
    out.write_text("".join(lines[i] + "\n" for i in chosen), encoding="utf-8")
    print(f"{len(chosen)} of {len(lines)} questions (none of the fixed 200) -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), "--second" in sys.argv[3:])
