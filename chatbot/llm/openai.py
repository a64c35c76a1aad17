"""Remote backend (``llm.mode: openai``): streamed chat completions from any OpenAI-compatible
server (vLLM, llama.cpp server, Ollama, TGI, this project's own API).

Plain httpx rather than the ``openai`` client: one dependency fewer on the hot path, and each
failure (server down, timeout, HTTP error, malformed stream) maps to its own one-line message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from chatbot.llm.base import GenerationError, GenerationParams
from chatbot.llm.streaming import RepetitionGuard, StopMatcher
from chatbot.settings import LLMSettings
from chatbot.types import ChatMessage

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

# The OpenAI API accepts at most four stop sequences; the rest are applied client-side.
_MAX_SERVER_STOPS = 4


class OpenAIGenerator:
    """:class:`chatbot.llm.base.Generator` over ``POST {base_url}/chat/completions`` with SSE."""

    def __init__(self, settings: LLMSettings, *, transport: httpx.BaseTransport | None = None) -> None:
        import httpx

        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.name = f"openai:{settings.remote_model}"
        headers = {"Accept": "text/event-stream"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        timeout = httpx.Timeout(settings.request_timeout_s, connect=min(10.0, settings.request_timeout_s))
        self._client = httpx.Client(headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    def count_tokens(self, text: str) -> int:
        # No tokenizer of the remote model here; ~4 characters per token is the usual English
        # estimate and errs towards short prompts, which is the safe side for budgets.
        return max(1, (len(text) + 3) // 4)

    def _payload(self, messages: list[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        s = self.settings
        max_new = min(params.max_new_tokens, s.max_new_tokens) if params.max_new_tokens else s.max_new_tokens
        payload: dict[str, Any] = {
            "model": s.remote_model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": max_new,
            "temperature": s.temperature if params.temperature is None else params.temperature,
            "top_p": s.top_p,
        }
        if s.repetition_penalty != 1.0:
            # Not in the OpenAI API, but vLLM, llama.cpp and TGI read it; others ignore it.
            payload["repetition_penalty"] = s.repetition_penalty
        if params.stop:
            payload["stop"] = list(params.stop[:_MAX_SERVER_STOPS])
        return payload

    def stream(self, messages: list[ChatMessage], params: GenerationParams | None = None) -> Iterator[str]:
        params = params or GenerationParams()
        if not messages or not messages[-1].content.strip():
            raise GenerationError("empty prompt: send a non-empty message")
        chars = sum(len(m.content) for m in messages)
        if chars > self.settings.max_prompt_tokens * 12:
            raise GenerationError(
                f"prompt is {chars:,} characters, far over llm.max_prompt_tokens={self.settings.max_prompt_tokens}: "
                "shorten the message"
            )
        return self._stream(self._payload(messages, params), params.stop)

    def _stream(self, payload: dict[str, Any], stops: tuple[str, ...]) -> Iterator[str]:
        import httpx

        url = f"{self.base_url}/chat/completions"
        guard = RepetitionGuard(self.settings.max_repeated_ngram)
        matcher = StopMatcher(stops)
        try:
            with self._client.stream("POST", url, json=payload) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GenerationError(self._http_error(response))
                for delta in self._deltas(response):
                    out, stopped = matcher.push(delta)
                    if out:
                        yield out
                    if stopped:
                        return
                    if guard.feed(delta):
                        log.info("stopped a repeating answer from %s", self.base_url)
                        return
            tail = matcher.flush()
            if tail:
                yield tail
        except httpx.ConnectError:
            raise GenerationError(
                f"cannot reach the model server at {self.base_url}: start it, or fix llm.base_url "
                "(or use llm.mode: hf for the built-in model)"
            ) from None
        except httpx.TimeoutException:
            raise GenerationError(
                f"the model server at {self.base_url} did not answer within {self.settings.request_timeout_s:g} s: "
                "check the server or raise llm.request_timeout_s"
            ) from None
        except httpx.HTTPError as err:
            raise GenerationError(
                f"connection to the model server at {self.base_url} failed ({type(err).__name__}): check the server"
            ) from None

    def _http_error(self, response: httpx.Response) -> str:
        detail = ""
        try:
            body = response.json()
            err = body.get("error") if isinstance(body, dict) else None
            detail = (err.get("message") if isinstance(err, dict) else err) or body.get("detail") or ""
        except (ValueError, AttributeError):
            detail = response.text[:200]
        detail = " ".join(str(detail).split())[:200]
        hint = {
            401: "check llm.api_key",
            403: "check llm.api_key",
            404: "check llm.base_url (it usually ends in /v1) and llm.remote_model",
            429: "the server is busy; try again shortly",
        }.get(response.status_code, "check the server's log")
        sep = ": " if detail else ""
        return f"model server at {self.base_url} answered HTTP {response.status_code}{sep}{detail} ({hint})"

    def _deltas(self, response: httpx.Response) -> Iterator[str]:
        """Text deltas of an SSE chat-completion stream (``data: {...}`` lines, ``[DONE]``)."""
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue  # comments, event names, keep-alives
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError:
                raise GenerationError(
                    f"the model server at {self.base_url} sent a malformed stream: is it OpenAI-compatible?"
                ) from None
            if isinstance(chunk, dict) and chunk.get("error"):
                err = chunk["error"]
                msg = err.get("message") if isinstance(err, dict) else err
                raise GenerationError(f"the model server at {self.base_url} failed mid-answer: {msg}")
            choices = (chunk.get("choices") or []) if isinstance(chunk, dict) else []
            for choice in choices:
                content = (choice.get("delta") or {}).get("content") or ""
                if content:
                    yield content
