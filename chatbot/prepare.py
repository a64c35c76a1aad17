"""``python -m chatbot prepare``: do the slow one-time work before the first chat.

Converts the configured GGUF model (the embedded SmolLM2 by default) to its cached
safetensors checkpoint and builds the default knowledge index when it is missing or stale.
Both steps are idempotent, so ``make run`` calls this every time.
"""

from __future__ import annotations

import argparse
import importlib
import time
from typing import Any

from chatbot.errors import HealthbotError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "prepare",
        help="convert/cache the default model and build the default index (run once; idempotent)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    p.add_argument("--rebuild-model", action="store_true", help="convert the GGUF model again even if cached")
    p.add_argument("--skip-model", action="store_true", help="do not touch the model cache")
    p.add_argument("--skip-index", action="store_true", help="do not build the knowledge index")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chatbot.settings import load_settings

    settings = load_settings(args.config)
    if not args.skip_model:
        prepare_model(settings, force=args.rebuild_model)
    if not args.skip_index:
        prepare_index(settings)
    return 0


def prepare_model(settings: Any, *, force: bool = False) -> None:
    llm = settings.llm
    if llm.mode != "hf":
        print(f"model: llm.mode is {llm.mode!r}, nothing to convert")
        return
    from chatbot.llm.cache import cache_name, cache_problem, ensure_checkpoint, gguf_source

    src = gguf_source(llm.model, llm.gguf_file)
    if src is None:
        print(f"model: {llm.model} is a regular checkpoint, loaded as is (nothing to convert)")
        return
    target = settings.model_cache_dir / cache_name(src)
    problem = None if force else cache_problem(target, src)
    if problem is None and not force:
        print(f"model: cached checkpoint ready at {target}")
        return
    print(
        f"model: converting {src.path.name} to {target} ({problem or 'rebuild requested'}); about a minute on 2 cores"
    )
    t0 = time.perf_counter()
    path = ensure_checkpoint(src, settings.model_cache_dir, force=force)
    print(f"model: ready at {path} ({time.perf_counter() - t0:.1f} s)")


def prepare_index(settings: Any) -> None:
    try:
        index = importlib.import_module("knowledge.index")
    except ImportError as err:
        raise HealthbotError(f"the knowledge index module is not available ({err}): reinstall healthbot") from None
    ensure = getattr(index, "ensure_index", None)
    if ensure is None:
        raise HealthbotError("knowledge.index has no ensure_index(): this checkout is incomplete; update it")
    t0 = time.perf_counter()
    print(f"index: checking {settings.index_dir} (sources: {', '.join(settings.knowledge.sources)})")
    path = ensure(settings, show_progress=True)
    print(f"index: ready at {path} ({time.perf_counter() - t0:.1f} s)")
