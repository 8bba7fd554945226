"""The bot's side of the support chat: `bot` (which question is asked: the asker's own
figures, or a rule about the platform), `answers` (the figures' answers, in the asker's
zone), `figures` (monitoring's consumption API, called with the asker's token) and `llm`
(the fallback for the rest, told only the asker's own figures and recent messages)."""
