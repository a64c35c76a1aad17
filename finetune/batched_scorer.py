"""Batched greedy generation and reference NLL for prompts that share a prefix.

All evaluation prompts start with the same system rules, so that prefix is run once per model
and its key/value cache reused by every batch; each batch is then [shared prefix | left padding
| own tokens] with explicit positions. The prompt's cache also serves the NLL pass, so the
prompt is run once for both.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from finetune.config import FinetuneError


@dataclass
class Generation:
    text: str
    stopped: bool
    new_tokens: int
    nll: float


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common token prefix, leaving each sequence at least one own token."""
    if not seqs:
        return 0
    limit = min(len(s) for s in seqs) - 1
    n = 0
    first = seqs[0]
    while n < limit and all(s[n] == first[n] for s in seqs):
        n += 1
    return n


class BatchedScorer:
    """Greedy generation and reference NLL for many prompts that share a prefix."""

    def __init__(self, model: Any, eos_id: int, pad_id: int, prefix: Sequence[int]) -> None:
        import torch

        self.model = model
        self.eos_id = eos_id
        self.pad_id = pad_id
        self.prefix = list(prefix)
        self._prefix_cache = None
        if self.prefix:
            with torch.no_grad():
                out = model(input_ids=torch.tensor([self.prefix]), use_cache=True, logits_to_keep=1)
            self._prefix_cache = out.past_key_values

    def run(
        self, prompts: Sequence[Sequence[int]], references: Sequence[Sequence[int]], max_new_tokens: int
    ) -> list[Generation]:
        import torch

        lp = len(self.prefix)
        tails = [list(p[lp:]) for p in prompts]
        if any(list(p[:lp]) != self.prefix for p in prompts) or any(not t for t in tails):
            raise FinetuneError("internal: a prompt does not start with the shared prefix")
        b = len(prompts)
        width = max(len(t) for t in tails)
        ids = torch.full((b, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((b, lp + width), dtype=torch.long)
        mask[:, :lp] = 1
        pos = torch.zeros((b, width), dtype=torch.long)
        for i, t in enumerate(tails):
            ids[i, width - len(t) :] = torch.tensor(t)
            mask[i, lp + width - len(t) :] = 1
            pos[i, width - len(t) :] = torch.arange(lp, lp + len(t))
        lengths = torch.tensor([lp + len(t) for t in tails])
        cache = None
        if self._prefix_cache is not None:
            cache = copy.deepcopy(self._prefix_cache)
            cache.batch_repeat_interleave(b)
        with torch.no_grad():
            out = self.model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        cache = out.past_key_values
        first_logits = out.logits[:, -1, :].float()
        nll = self._reference_nll(copy.deepcopy(cache), mask, lengths, first_logits, references)
        texts_ids, stopped = self._greedy(cache, mask, lengths, first_logits, max_new_tokens)
        return [
            Generation(text=self._ids_to_text(g), stopped=s, new_tokens=len(g), nll=n)
            for g, s, n in zip(texts_ids, stopped, nll, strict=True)
        ]

    # The tokenizer is attached by the caller; kept out of __init__ to keep the scorer testable.
    decode: Any = None

    def _ids_to_text(self, ids: list[int]) -> str:
        return str(self.decode(ids, skip_special_tokens=True)).strip() if self.decode else ""

    def _reference_nll(
        self, cache: Any, mask: Any, lengths: Any, first_logits: Any, references: Sequence[Sequence[int]]
    ) -> list[float]:
        import torch

        b = len(references)
        width = max(len(r) for r in references)
        ids = torch.full((b, width), self.pad_id, dtype=torch.long)
        ref_mask = torch.zeros((b, width), dtype=torch.long)
        for i, r in enumerate(references):
            ids[i, : len(r)] = torch.tensor(r)
            ref_mask[i, : len(r)] = 1
        pos = lengths[:, None] + torch.arange(width)[None, :]
        with torch.no_grad():
            out = self.model(
                input_ids=ids,
                attention_mask=torch.cat([mask, ref_mask], dim=1),
                position_ids=pos,
                past_key_values=cache,
                use_cache=True,
            )
        logits = torch.cat([first_logits[:, None, :], out.logits[:, :-1, :].float()], dim=1)
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, :, None]).squeeze(-1)
        return [float(-(logp[i] * ref_mask[i]).sum() / ref_mask[i].sum()) for i in range(b)]

    def _greedy(
        self, cache: Any, mask: Any, lengths: Any, logits: Any, max_new_tokens: int
    ) -> tuple[list[list[int]], list[bool]]:
        import torch

        b = logits.shape[0]
        done = torch.zeros(b, dtype=torch.bool)
        out: list[list[int]] = [[] for _ in range(b)]
        for step in range(max_new_tokens):
            nxt = logits.argmax(dim=-1)
            for i in range(b):
                if not done[i]:
                    out[i].append(int(nxt[i]))
            done |= nxt == self.eos_id
            if bool(done.all()) or step == max_new_tokens - 1:
                break
            feed = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
            mask = torch.cat([mask, torch.ones((b, 1), dtype=mask.dtype)], dim=1)
            with torch.no_grad():
                o = self.model(
                    input_ids=feed[:, None],
                    attention_mask=mask,
                    position_ids=(lengths + step)[:, None],
                    past_key_values=cache,
                    use_cache=True,
                )
            cache = o.past_key_values
            logits = o.logits[:, -1, :].float()
        stopped = [bool(g) and g[-1] == self.eos_id for g in out]
        return out, stopped
