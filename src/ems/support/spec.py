from ems.common.registry import service

SPEC = service(
    "support",
    port=8160,
    order=50,
    description="Support chat: rule-based bot, LLM fallback, admin inbox and history.",
)
