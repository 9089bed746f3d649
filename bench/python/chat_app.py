"""The quickstart's ``POST /chat`` written with the official Python SDK.

The handler calls the demo API's ``/me`` through the vault as the caller of the request, the
same work as the Rust quickstart. The SDK reads ``ALTER_API_KEY`` here and ``ALTER_BASE_URL``
from the environment; ``ALTER_DEMO_API_URL`` names the demo API. Serve it with uvicorn:
``uvicorn chat_app:app``.
"""

import os

from alter_sdk.fastapi import AlterFastAPI
from fastapi import Depends, FastAPI

DEMO_API_URL = os.environ["ALTER_DEMO_API_URL"].rstrip("/")

alter = AlterFastAPI(api_key=os.environ["ALTER_API_KEY"], caller="quickstart")
app = FastAPI()


@app.post("/chat")
async def chat(vault=Depends(alter)):
    response = await vault.request(
        "GET",
        f"{DEMO_API_URL}/me",
        provider="demo",
        reason="answer a chat message",
    )
    return response.json()
