"""A tiny OpenAI-compatible chat-completions server for the LLM fallback tests.

The requested `model` picks the behaviour: `answer` replies, `fail` answers 500, `hang`
never answers within any sane timeout, `garbage` returns a body without choices.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def llm_app(requests: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> JSONResponse:
        body = await request.json()
        requests.append({"body": body, "authorization": request.headers.get("authorization")})
        model = body.get("model")
        if model == "fail":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if model == "hang":
            await asyncio.sleep(4)
        if model == "garbage":
            return JSONResponse({"unexpected": True})
        question = body["messages"][-1]["content"]
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"AI says: {question}"},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    return app
