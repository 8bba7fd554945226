"""The rule-based bot: questions about the platform itself, answered by the first rule
that matches, in a fixed priority order.

Patterns match whole words or phrases only (`hi` never matches inside `this`), case
insensitive. Specific topics come before small talk, so "hi, I forgot my password" is
answered about the password, not with a greeting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    answer: str


def _rule(name: str, phrases: list[str], answer: str) -> Rule:
    # (?<!\w) / (?!\w): a phrase must start and end on a word boundary; inner blanks
    # match any run of whitespace.
    alternatives = "|".join(p.replace(" ", r"\s+") for p in phrases)
    return Rule(name, re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE), answer)


RULES: tuple[Rule, ...] = (
    _rule(
        "human",
        [
            "human",
            "real person",
            "(?:an? )?(?:admin|administrator|operator|agent)",
            "talk to (?:someone|somebody|a person|support)",
            "speak (?:to|with) (?:someone|somebody|a person|support)",
            "contact(?: support| you| us)?",
            "customer service",
        ],
        'To talk to a person, switch the chat to "Admin" mode and write your message: it '
        "goes straight to our admins' inbox and the reply appears here, even if you reload "
        "the page.",
    ),
    _rule(
        "password",
        [
            "password",
            "passwd",
            r"log\s*in",
            r"sign\s*in",
            "logged out",
            "locked out",
            "forgot",
            "can'?t log",
            "two.factor",
        ],
        "You sign in with your username and password. To change your password, open My "
        "profile → Change password (you need the current one). If you forgot it, or the app "
        'says "too many failed logins", wait a few minutes and try again, or switch to '
        "Admin mode and an admin will help you regain access.",
    ),
    _rule(
        "account",
        [
            "account",
            "profile",
            "my name",
            "(?:change|update|edit) (?:my )?(?:e-?mail|name|details)",
            "e-?mail address",
            "register",
            r"sign\s*up",
            "username",
        ],
        "Your account details are under My profile: you can edit your full name and e-mail "
        "there. Your username and role are set by the utility; to change them or to close "
        "your account, write to an admin in Admin mode.",
    ),
    _rule(
        "alerts",
        [
            "alerts?",
            "notifications?",
            "overconsumption",
            "over consumption",
            "limits?",
            "threshold",
            "max(?:imum)? hourly",
            "warning",
        ],
        "Every device has a maximum hourly consumption (kWh). When a device uses more than "
        "that within one clock hour you get one alert for that hour, shown as a pop-up while "
        "you are online and kept in the Alerts history (with an unread count) if you were "
        "not. The limit of a device is set by an admin; ask in Admin mode to change it.",
    ),
    _rule(
        "devices",
        [
            "devices?",
            "meters?",
            "smart meters?",
            "sensors?",
            "add (?:a )?device",
        ],
        "My devices lists the smart meters assigned to you, with their address and hourly "
        "limit. Devices are added and assigned by an admin: if one is missing or wrong, "
        "write to an admin in Admin mode with its address.",
    ),
    _rule(
        "consumption",
        [
            "consumption",
            "usage",
            "kwh",
            "charts?",
            "graphs?",
            "energy",
            "readings?",
            "export",
            "csv",
            "how much (?:power|electricity|energy)",
        ],
        "Open Consumption, pick a device (or all your devices) and a day: the chart shows "
        "the kWh of each hour (UTC hours, shown in your time zone) with the day's total, "
        "average and peak. Use the arrows for the previous or next day, switch to week or "
        "month views, and download a CSV. The chart updates live as new readings arrive.",
    ),
    _rule(
        "billing",
        [
            "bills?",
            "billing",
            "invoices?",
            "payments?",
            "pay",
            "prices?",
            "tariffs?",
            "costs?",
            "refund",
        ],
        "This app shows your energy use; bills and payments are handled by your utility's "
        "billing department, not here. You can download your consumption as CSV to check a "
        "bill; for a question about an invoice, write to an admin in Admin mode.",
    ),
    _rule(
        "privacy",
        [
            "privacy",
            "private",
            "personal data",
            "gdpr",
            "data protection",
            "who can see",
            "delete my data",
        ],
        "Only you and the utility's admins can see your devices, consumption and "
        "conversations. When your account is deleted, your devices, consumption data and "
        "chat history are deleted with it. For a copy or deletion of your data, ask an admin "
        "in Admin mode.",
    ),
    _rule(
        "help",
        ["help", "what can you do", "how does (?:this|it) work", "menu"],
        "I can help with: your consumption charts and CSV export, devices, alerts and "
        "limits, password and login, your profile, privacy, and billing questions. Ask in a "
        "few words, or switch to Admin mode to talk to a person.",
    ),
    _rule(
        "thanks",
        ["thanks?", "thank you", "thx", "ty", "cheers", "appreciate it"],
        "You're welcome! Anything else about your energy use, just ask.",
    ),
    _rule(
        "bye",
        ["bye", "goodbye", "good bye", "see you", "see ya"],
        "Goodbye! Your conversation is saved here whenever you come back.",
    ),
    _rule(
        "greeting",
        [
            "hi",
            "hello",
            "hey",
            "hiya",
            "greetings",
            "good (?:morning|afternoon|evening)",
            "salut",
            "buna",
        ],
        "Hello! I'm the EMS assistant. Ask me about your consumption, devices, alerts, "
        "password or account, or switch to Admin mode to talk to a person.",
    ),
)


def match_rule(text: str) -> Rule | None:
    """The first rule, in priority order, whose pattern occurs in `text`."""
    for rule in RULES:
        if rule.pattern.search(text):
            return rule
    return None


HANDOFF_ANSWER = (
    "I'm not sure about that one, so I've passed your question to our admins. Someone will "
    "get back to you here soon; you can also switch to Admin mode to write to them directly."
)

SYSTEM_PROMPT = (
    "You are the support assistant of EMS, an energy management platform of a utility. "
    "Clients use it to see their smart meters (devices), their hourly electricity "
    "consumption in kWh (daily, weekly and monthly charts, CSV export), overconsumption "
    "alerts when a device exceeds its maximum hourly kWh, their profile and password, and "
    "this support chat (bot or human admins). Answer briefly and helpfully in the user's "
    "language. If you do not know, or the question needs an account change, say that an "
    "admin will help in Admin mode. Never invent account data."
)
