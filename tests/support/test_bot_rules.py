"""The bot's rules: whole words and phrases only, in a fixed priority order."""

from __future__ import annotations

from datetime import date

import pytest

from ems.support.assistant.bot import RULES, FigureQuestion, figure_question, match_rule

MUST_MATCH = [
    ("hi", "greeting"),
    ("Hi there!", "greeting"),
    ("hello", "greeting"),
    ("Good morning", "greeting"),
    ("I forgot my password", "password"),
    ("cannot log in", "password"),
    ("login fails", "password"),
    ("how do I change my e-mail?", "account"),
    ("where is my profile", "account"),
    ("why did I get an alert?", "alerts"),
    ("what is the hourly limit", "alerts"),
    ("my smart meter is missing", "devices"),
    ("add a device", "devices"),
    ("show my consumption", "consumption"),
    ("how many kWh today", "consumption"),
    ("can I export CSV", "consumption"),
    ("my last bill is wrong", "billing"),
    ("what is the tariff", "billing"),
    ("who can see my data? privacy", "privacy"),
    ("I want to talk to a human", "human"),
    ("contact support", "human"),
    ("thanks", "thanks"),
    ("thank you!", "thanks"),
    ("bye", "bye"),
    ("help", "help"),
]

MUST_NOT_MATCH = [
    "this",  # "hi" inside "this"
    "whistle",
    "ship it",  # "hi" inside "ship"
    "they",  # "hey" is not "they"
    "byelaw",
    "thankfully",
    "helpful",
    "typewriter",  # "ty" inside
    "passwordless?",  # not the word "password"
    "accountant",
    "limitless",
    "billion",
    "payload",
    "metered",
    "the weather in Cluj",
]


def test_there_are_at_least_ten_rules_about_the_platform() -> None:
    """If this fails, the bot covers too few topics (the spec asks for at least 10)."""
    names = [rule.name for rule in RULES]
    assert len(names) >= 10 and len(set(names)) == len(names)


@pytest.mark.parametrize(("text", "rule"), MUST_MATCH)
def test_rules_match_whole_words_and_phrases(text: str, rule: str) -> None:
    """If this fails, a plain question about the platform gets no rule answer."""
    matched = match_rule(text)
    assert matched is not None and matched.name == rule


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_rules_never_match_inside_other_words(text: str) -> None:
    """If this fails, substring matching is back ("hi" inside "this")."""
    assert match_rule(text) is None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("hi, I forgot my password", "password"),
        ("hello, my device shows no consumption", "devices"),
        ("thanks, but the alert limit is wrong", "alerts"),
        ("hey can I talk to a human about my bill", "human"),
    ],
)
def test_specific_topics_win_over_small_talk_in_a_fixed_order(text: str, rule: str) -> None:
    """If this fails, the answer depends on rule order that nobody chose (a greeting
    answers a password question)."""
    matched = match_rule(text)
    assert matched is not None and matched.name == rule


def test_answers_are_about_the_platform() -> None:
    """If this fails, a rule answers with a stub instead of something helpful."""
    for rule in RULES:
        assert len(rule.answer) > 40, rule.name


FIGURE_QUESTIONS = [
    ("How much did I consume today?", "total", "today"),
    ("how much electricity did I use yesterday", "total", "yesterday"),
    ("How much energy have I used this week?", "total", "this_week"),
    ("What is my consumption this month?", "total", "this_month"),
    ("my usage last week", "total", "last_week"),
    ("how many kWh today", "total", "today"),
    ("how much did I consume on 2026-10-25?", "total", date(2026, 10, 25)),
    ("Which device uses the most?", "top_device", None),
    ("which of my meters used the most last month", "top_device", "last_month"),
    ("When was my peak?", "peak", None),
    ("when was my peak on 2026-03-29", "peak", date(2026, 3, 29)),
    ("Any alerts?", "alerts", None),
    ("do I have alerts", "alerts", None),
    ("What does it cost?", "cost", None),
    ("how much did I pay yesterday", "cost", "yesterday"),
]

NOT_FIGURE_QUESTIONS = [
    "how do I export my consumption to CSV?",
    "why did I get an alert?",
    "what is the tariff",
    "show me the consumption of another user",
    "hi",
    "I forgot my password",
]


@pytest.mark.parametrize(("text", "topic", "period"), FIGURE_QUESTIONS)
def test_questions_about_ones_own_figures_are_recognised(
    text: str, topic: str, period: object
) -> None:
    """If this fails, the assistant answers a question about the user's own figures with
    a general text (or the LLM), or about another period than the one asked."""
    assert figure_question(text) == FigureQuestion(topic, period)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", NOT_FIGURE_QUESTIONS)
def test_questions_about_the_app_are_not_figure_questions(text: str) -> None:
    """If this fails, a how-to question gets a figure instead of the explanation asked for."""
    assert figure_question(text) is None
