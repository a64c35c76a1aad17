"""Generation speed of our CPU paths against llama.cpp and the memory-bandwidth limit.

Same model (the embedded SmolLM2-135M-Instruct; llama.cpp reads its Q4_1 GGUF directly), same
~1,000-token retrieval prompt (token ids identical for every engine), same thread count, one run:

    .venv/bin/python benchmarks/generation.py --threads 2
    .venv/bin/python benchmarks/generation.py --threads 2 --max-new 64 --paths default,int8-py,fp32,hf-fp32,hf-int8
    .venv/bin/python benchmarks/generation.py --paths default,4bit --max-new 32   # a subset
    .venv/bin/python benchmarks/generation.py --loads   # first (converting) vs second load

llama.cpp runs through ``llama-cpp-python`` in its own environment (``--llama-python``, default
``bench-venv/bin/python``; create it with
``python -m venv bench-venv && bench-venv/bin/pip install llama-cpp-python``). If it is missing
the row says so and the other rows are still measured.

Paths: ``default`` (lean CPU decoder, int8, decode steps in C: chatbot/llm/decode_step.c),
``int8-py`` (the same int8 weights with the decode step in Python/torch), ``fp32`` (lean decoder, float32: exact),
``hf-fp32`` (transformers' forward, float32: the reference), ``hf-int8`` (transformers' forward
with torch.ao int8 Linears), ``bf16``, ``4bit``, ``8bit`` (bitsandbytes). The int8 paths read
their quantized weights from the cache after the first run; run once before timing loads.

Roofline: a decode step reads every weight once, so tokens/s <= copy bandwidth / weight bytes.
Bandwidth is measured here with a large torch copy on the same threads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# label -> LLMSettings overrides. "default" is exactly what `make run` uses.
PATHS: dict[str, dict[str, Any]] = {
    "default": {},  # lean CPU decoder, int8 (SmoothQuant-calibrated), C decode step, prefix cache
    "int8-py": {"native_kernel": False},  # the same int8 weights, one-token steps in Python/torch ops
    "fp32": {"cpu_int8": False},  # lean CPU decoder in float32: exact
    "hf-fp32": {"cpu_int8": False, "fast_decoder": False},  # transformers' forward, float32 (the reference)
    "hf-int8": {"fast_decoder": False},  # transformers' forward with torch.ao int8 dynamic Linears
    "bf16": {"compute_dtype": "bfloat16", "cpu_int8": False},
    "4bit": {"quantization": "4bit"},
    "8bit": {"quantization": "8bit"},
}


def llama_worker(spec_path: str) -> None:
    """Runs inside the llama.cpp environment: no torch, no project imports."""
    spec = json.loads(Path(spec_path).read_text())
    from llama_cpp import Llama

    t0 = time.perf_counter()
    llm = Llama(
        model_path=spec["gguf"],
        n_ctx=spec["n_ctx"],
        n_threads=spec["threads"],
        n_threads_batch=spec["threads"],
        n_batch=512,
        verbose=False,
    )
    load_s = time.perf_counter() - t0
    ids = spec["prompt_ids"]
    # warm-up on a short prefix so both engines are measured warm
    for i, _ in enumerate(llm.generate(ids[:16], temp=0.0, top_k=1, repeat_penalty=1.0)):
        if i >= 2:
            break
    llm.reset()
    t0 = time.perf_counter()
    first = None
    n = 0
    last = t0
    out: list[int] = []
    for tok in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
        last = time.perf_counter()
        if first is None:
            first = last - t0
        n += 1
        if tok == llm.token_eos():
            break
        out.append(tok)
        if n >= spec["max_new"]:
            break
    decode = (n - 1) / (last - t0 - first) if first is not None and n > 1 else None
    answer = llm.detokenize(out).decode("utf-8", errors="replace")
    print(json.dumps({"load_s": load_s, "ttft_s": first, "new_tokens": n, "decode_tps": decode, "answer": answer}))


def build_messages(tokenizer: Any, target_tokens: int) -> list[Any]:
    """A retrieval prompt like the dialogue manager's: rules + numbered starter passages + question."""
    from chatbot import prompts
    from chatbot.types import ChatMessage
    from knowledge.documents import Chunk

    question = "My child has asthma and a cold. What symptoms mean we should see a doctor?"
    paragraphs: list[tuple[str, str]] = []
    for name in ("asthma", "common-cold", "influenza", "fever", "bronchitis", "allergies", "pneumonia"):
        path = REPO / "knowledge" / "starter" / f"{name}.md"
        if path.is_file():
            body = path.read_text(encoding="utf-8").split("---", 2)[-1]
            paragraphs += [(name, p.strip()) for p in body.split("\n\n") if len(p.strip()) > 80]
    chunks: list[Chunk] = []
    messages: list[ChatMessage] = []
    for i, (name, text) in enumerate(paragraphs):
        chunk = Chunk(id=f"{name}#{i}", doc_id=name, text=text, title=name.replace("-", " ").title())
        trial = prompts.build_messages(question, [*chunks, chunk])
        n = len(tokenizer.apply_chat_template([{"role": m.role, "content": m.content} for m in trial])["input_ids"])
        if n > target_tokens:
            break
        chunks.append(chunk)
        messages = trial
    return messages or [ChatMessage("user", question)]


def copy_bandwidth(threads: int) -> float:
    """Bytes/s of a large tensor copy (read + write), best of 5."""
    import torch

    torch.set_num_threads(threads)
    src = torch.ones(64 * 1024 * 1024 // 4 * 4, dtype=torch.float32)  # 256 MiB
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * src.element_size() / best


def weight_bytes(model: Any) -> int:
    """Bytes a decode step reads: every parameter/buffer storage once (tied weights once)."""
    seen: set[int] = set()
    total = 0
    tensors = list(model.parameters()) + list(model.buffers())
    for mod in model.modules():  # torch.ao dynamic-quantized Linear keeps packed weights off-parameter
        packed = getattr(mod, "_packed_params", None)
        if packed is not None and hasattr(packed, "_weight_bias"):
            w, b = packed._weight_bias()
            tensors += [w] + ([b] if b is not None else [])
    for t in tensors:
        ptr = t.untyped_storage().data_ptr() if hasattr(t, "untyped_storage") else id(t)
        if ptr in seen:
            continue
        seen.add(ptr)
        total += t.numel() * t.element_size()
    return total


def run_hf(label: str, overrides: dict[str, Any], args: argparse.Namespace, messages: list[Any]) -> dict[str, Any]:
    from chatbot.llm.base import GenerationParams
    from chatbot.llm.hf import HFGenerator
    from chatbot.services import calibration_messages
    from chatbot.settings import load_settings
    from chatbot.types import ChatMessage

    llm = {"threads": args.threads, "max_new_tokens": args.max_new, "max_prompt_tokens": 4096, **overrides}
    settings = load_settings(data_dir=args.data_dir, llm=llm)
    t0 = time.perf_counter()
    gen = HFGenerator(settings.llm, cache_dir=settings.model_cache_dir, calibration=calibration_messages())
    load_s = time.perf_counter() - t0
    for _ in gen.stream(messages[-1:], GenerationParams(max_new_tokens=3)):
        pass  # warm-up
    answer = "".join(gen.stream(messages, GenerationParams(max_new_tokens=args.max_new)))
    st = gen.last_stats
    # The follow-up turn repeats the whole first turn, so the prefix cache can skip it.
    follow_up = [*messages, ChatMessage("assistant", answer), ChatMessage("user", "How is it treated?")]
    for _ in gen.stream(follow_up, GenerationParams(max_new_tokens=2)):
        pass
    turn2 = gen.last_stats
    return {
        "answer": answer,
        "ttft_turn2_s": turn2.first_token_s,
        "turn2_prompt_tokens": turn2.prompt_tokens,
        "turn2_reused_tokens": turn2.reused_prompt_tokens,
        "path": label,
        "load_s": load_s,
        "ttft_s": st.first_token_s,
        "new_tokens": st.new_tokens,
        "decode_tps": st.decode_tokens_per_s,
        "prompt_tokens": st.prompt_tokens,
        "weight_bytes": gen.lean_decoder.weight_bytes() if gen.lean_decoder else weight_bytes(gen.model),
        "name": gen.name,
    }


def run_llamacpp(args: argparse.Namespace, prompt_ids: list[int]) -> dict[str, Any]:
    from chatbot.llm.cache import EMBEDDED_GGUF, embedded_model_dir

    gguf = embedded_model_dir() / EMBEDDED_GGUF
    row: dict[str, Any] = {"path": "llama.cpp", "weight_bytes": gguf.stat().st_size, "name": "llama-cpp-python Q4_1"}
    python = Path(args.llama_python)
    if not python.exists():
        row["error"] = f"{python} not found (see the module docstring)"
        return row
    spec = {
        "gguf": str(gguf),
        "prompt_ids": prompt_ids,
        "threads": args.threads,
        "max_new": args.max_new,
        "n_ctx": len(prompt_ids) + args.max_new + 8,
    }
    spec_path = Path(args.data_dir) / "bench_llamacpp_spec.json"
    spec_path.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [str(python), __file__, "--llama-worker", str(spec_path)], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        row["error"] = (proc.stderr.strip().splitlines() or ["failed"])[-1][:160]
        return row
    row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return row


def load_worker(data_dir: str) -> None:
    """One fresh process: time HFGenerator construction (imports excluded) for the default model."""
    import torch  # noqa: F401  (imported before the clock starts, like a running app)
    import transformers  # noqa: F401

    from chatbot.llm.hf import HFGenerator
    from chatbot.services import calibration_messages
    from chatbot.settings import load_settings

    settings = load_settings(data_dir=data_dir)
    t0 = time.perf_counter()
    HFGenerator(settings.llm, cache_dir=settings.model_cache_dir, calibration=calibration_messages())
    print(json.dumps({"seconds": time.perf_counter() - t0}))


def compare_loads() -> int:
    """First load of the default model (GGUF conversion) against the second (cached checkpoint)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="healthbot-load-") as tmp:
        times = []
        for _ in range(2):
            proc = subprocess.run(
                [sys.executable, __file__, "--load-worker", tmp], capture_output=True, text=True, timeout=1800
            )
            if proc.returncode != 0:
                raise SystemExit(proc.stderr.strip().splitlines()[-1])
            times.append(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])
    print(f"\nload average {os.getloadavg()[0]:.1f}\n")
    print("| load of the default model | seconds |\n|---|---|")
    print(f"| first (convert GGUF -> safetensors cache) | {times[0]:.1f} |")
    print(f"| second (cached checkpoint) | {times[1]:.1f} |")
    print(f"| speed-up | {times[0] / times[1]:.1f}x |")
    return 0


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-new", type=int, default=64)
    ap.add_argument("--prompt-tokens", type=int, default=1000)
    ap.add_argument("--paths", default=",".join(PATHS), help=f"comma list of {', '.join(PATHS)}")
    ap.add_argument("--llama-python", default=str(REPO / "bench-venv" / "bin" / "python"))
    ap.add_argument("--data-dir", default=str(REPO / "data"), help="where the converted model cache lives")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    ap.add_argument("--loads", action="store_true", help="only compare first (converting) and second load times")
    ap.add_argument("--llama-worker", help=argparse.SUPPRESS)
    ap.add_argument("--load-worker", help=argparse.SUPPRESS)
    return ap


def _measure_paths(args: argparse.Namespace, messages: list[Any], prompt_ids: list[int]) -> list[dict[str, Any]]:
    """llama.cpp first (the reference of the ratios), then every requested path of ours."""
    rows = [run_llamacpp(args, prompt_ids)]
    print(f"measured llama.cpp: {json.dumps(rows[0])}", file=sys.stderr, flush=True)
    for label in [p.strip() for p in args.paths.split(",") if p.strip()]:
        if label not in PATHS:
            raise SystemExit(f"unknown path {label!r}; choose from {', '.join(PATHS)}")
        try:
            rows.append(run_hf(label, PATHS[label], args, messages))
        except Exception as err:  # one failing path must not hide the others
            rows.append({"path": label, "error": f"{type(err).__name__}: {err}"[:160]})
        print(f"measured {label}: {json.dumps(rows[-1])}", file=sys.stderr, flush=True)
    return rows


def _print_table(rows: list[dict[str, Any]], bandwidth: float) -> None:
    ref = rows[0].get("decode_tps")
    ref_ttft = rows[0].get("ttft_s")
    head = (
        "| path | TTFT s | TTFT vs llama.cpp | decode tok/s | decode vs llama.cpp | weights MB/token "
        "| roofline tok/s | % of roofline | next-turn TTFT s (reused/prompt tokens) | load s |"
    )
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for r in rows:
        if "error" in r and r.get("decode_tps") is None:
            print(f"| {r['path']} | error: {r['error']} " + "|" * (head.count("|") - 2))
            continue
        wb = r.get("weight_bytes")
        roof = bandwidth / wb if wb else None
        tps = r.get("decode_tps")
        print(
            f"| {r['path']} | {fmt(r.get('ttft_s'), '.2f')} | "
            f"{fmt(r['ttft_s'] / ref_ttft if ref_ttft and r.get('ttft_s') else None, '.2f')}x | "
            f"{fmt(tps, '.1f')} | {fmt(tps / ref if ref and tps else None, '.2f')}x | "
            f"{fmt(wb / 1e6 if wb else None, '.0f')} | {fmt(roof, '.0f')} | "
            f"{fmt(100 * tps / roof if roof and tps else None, '.0f')}% | "
            f"{fmt(r.get('ttft_turn2_s'), '.2f')} ({r.get('turn2_reused_tokens', '-')}/{r.get('turn2_prompt_tokens', '-')}) | "
            f"{fmt(r.get('load_s'), '.1f')} |"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.llama_worker:
        llama_worker(args.llama_worker)
        return 0
    if args.load_worker:
        load_worker(args.load_worker)
        return 0
    if args.loads:
        return compare_loads()

    import torch

    from chatbot.llm.hf import load_model
    from chatbot.settings import load_settings

    torch.set_num_threads(args.threads)
    settings = load_settings(data_dir=args.data_dir)
    tokenizer = load_model(settings.llm, settings.model_cache_dir).tokenizer
    messages = build_messages(tokenizer, args.prompt_tokens)
    chat = [{"role": m.role, "content": m.content} for m in messages]
    prompt_ids = [int(i) for i in tokenizer.apply_chat_template(chat, add_generation_prompt=True)["input_ids"]]
    bandwidth = copy_bandwidth(args.threads)
    load0 = os.getloadavg()[0]

    rows = _measure_paths(args, messages, prompt_ids)
    print(
        f"\nprompt {len(prompt_ids)} tokens, up to {args.max_new} new tokens, {args.threads} threads, "
        f"copy bandwidth {bandwidth / 1e9:.1f} GB/s, load average {load0:.1f} -> {os.getloadavg()[0]:.1f}\n"
    )
    _print_table(rows, bandwidth)
    print("\nanswers (greedy, same prompt):")
    for r in rows:
        if r.get("answer") is not None:
            print(f"- {r['path']}: {' '.join(r['answer'].split())[:160]!r}")
    if args.json:
        Path(args.json).write_text(json.dumps({"bandwidth": bandwidth, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
