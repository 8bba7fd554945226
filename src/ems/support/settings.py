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

    # The assistant reads the asker's own figures from monitoring's consumption API, with the
    # asker's own token (`ems up` points this at monitoring's first replica). A whole answer
    # gets this long before the user is told their figures cannot be seen right now.
    monitoring_internal_url: str = "http://127.0.0.1:8120"
    # Which devices are the asker's ("which device uses the most"), with the same token.
    devices_internal_url: str = "http://127.0.0.1:8103"
    support_monitoring_timeout_seconds: float = 3.0
    # Messages of the conversation the LLM fallback sees before the question.
    support_llm_history_messages: int = 10

    # Messages a client may send: a burst, then this many per minute (0 turns it off).
    support_messages_per_minute: int = 20
    support_messages_burst: int = 10
