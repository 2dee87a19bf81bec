"""`python -m models.modeling.prepare_llm`: convert the Playground LLM once, at install time.

The packaged SmolLM2 is a quantised GGUF; its first load de-quantises it into safetensors in the model
cache (about 30 s on 2 CPU cores). `make install` runs this so the first Generate click in the Playground
loads in about a second. Prints one line; exit status 0 when the model is ready, 2 when it cannot be.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from models.errors import StratLabModelError
from models.modeling.loading import prepare_llm


def main(argv: Sequence[str] | None = None) -> int:
    """Prepare `argv[0]` (a registry name or folder), else the configured Playground LLM."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        folder, seconds, converted = prepare_llm(args[0] if args else None)
    except StratLabModelError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    if folder is None:
        sys.stdout.write("Playground LLM: not a GGUF, nothing to prepare\n")
    elif converted:
        sys.stdout.write(f"Playground LLM converted once in {seconds:.1f} s: {folder}\n")
    else:
        sys.stdout.write(f"Playground LLM already prepared: {folder}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
