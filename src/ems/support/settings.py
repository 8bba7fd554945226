from __future__ import annotations

from typing import ClassVar

from ems.common.settings import CommonSettings


class SupportSettings(CommonSettings):
    database_name: ClassVar[str | None] = "supportdb"

    # An OpenAI-compatible chat-completions endpoint answers what no rule does; when the
    # base URL is unset the bot hands the question to an admin instead.
    support_llm_base_url: str | None = None
    support_llm_model: str = "gpt-4o-mini"
    support_llm_api_key: str | None = None
    support_llm_timeout_seconds: float = 8.0
    support_llm_max_tokens: int = 300

    # Messages a client may send: a burst, then this many per minute (0 turns it off).
    support_messages_per_minute: int = 20
    support_messages_burst: int = 10
