"""The LLM fallback: any OpenAI-compatible `POST {base_url}/chat/completions`.

It is sent a short system prompt, a summary of the asker's own figures (read with the
asker's own token, see `answers.summary`), the recent messages of the asker's own
conversation and the question: nothing of any other user, whatever the question asks.
Whatever goes wrong (not configured, an error status, a malformed answer, no answer within
the timeout), the caller gets None and hands the question to an admin: the user never sees
an error text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from prometheus_client import Counter

from ems.support.assistant.bot import SYSTEM_PROMPT
from ems.support.settings import SupportSettings

log = logging.getLogger(__name__)

LLM_CALLS = Counter("ems_support_llm_calls_total", "LLM fallback calls by outcome", ["outcome"])


@dataclass(frozen=True)
class Turn:
    """A message of the conversation as the model sees it."""

    role: Literal["user", "assistant"]
    content: str


class LlmClient:
    def __init__(self, settings: SupportSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    @property
    def configured(self) -> bool:
        return bool(self.settings.support_llm_base_url)

    async def answer(
        self, question: str, history: Sequence[Turn] = (), figures: str | None = None
    ) -> str | None:
        if not self.configured:
            return None
        timeout = self.settings.support_llm_timeout_seconds
        try:
            # A hard cap on the whole call: httpx's timeouts are per phase, not in total.
            async with asyncio.timeout(timeout):
                text = await self._ask(_messages(question, history, figures), timeout)
        except TimeoutError:
            LLM_CALLS.labels("timeout").inc()
            log.warning("LLM fallback timed out", extra={"timeout": timeout})
            return None
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            LLM_CALLS.labels("error").inc()
            log.warning("LLM fallback failed", extra={"error": f"{type(exc).__name__}: {exc}"})
            return None
        LLM_CALLS.labels("answered" if text else "empty").inc()
        return text

    async def _ask(self, messages: list[dict[str, str]], timeout: float) -> str | None:
        base = str(self.settings.support_llm_base_url).rstrip("/")
        headers = {}
        if self.settings.support_llm_api_key:
            headers["Authorization"] = f"Bearer {self.settings.support_llm_api_key}"
        response = await self.http.post(
            f"{base}/chat/completions",
            headers=headers,
            timeout=timeout,
            json={
                "model": self.settings.support_llm_model,
                "messages": messages,
                "max_tokens": self.settings.support_llm_max_tokens,
                "temperature": 0.2,
            },
        )
        response.raise_for_status()
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError("the answer has no text content")
        return content.strip()[:4000] or None


def _messages(question: str, history: Sequence[Turn], figures: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    if figures:
        messages.append({"role": "system", "content": figures})
    messages.extend({"role": turn.role, "content": turn.content} for turn in history)
    messages.append({"role": "user", "content": question})
    return messages
