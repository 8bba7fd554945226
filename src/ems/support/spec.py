from ems.common.registry import service

SPEC = service(
    "support",
    port=8160,
    order=50,
    description="Support chat: the rule-based bot and an assistant answering from the caller's"
    " own figures, LLM fallback, admin inbox and history.",
)
