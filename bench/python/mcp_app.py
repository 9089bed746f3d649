"""The MCP example's ``whoami`` tool written with FastMCP and the official SDK's ``AlterMCP``.

It is served over streamable HTTP at ``/mcp``, stateless and with plain JSON responses, like
the Rust example, so one POST calls a tool. Each call acts for the user of the request's
``Authorization: Bearer`` token. Serve it with uvicorn: ``uvicorn mcp_app:app``.
"""

import os

from alter_sdk import App
from alter_sdk.mcp import AlterContext, AlterMCP
from fastmcp import FastMCP
from fastmcp.server.dependencies import get_http_headers

DEMO_API_URL = os.environ["ALTER_DEMO_API_URL"].rstrip("/")


def user_token() -> str:
    """Return the bearer token of the current MCP request, or an empty string."""
    authorization = get_http_headers(include={"authorization"}).get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


alter = AlterMCP(
    App(
        api_key=os.environ["ALTER_API_KEY"],
        caller="alter-mcp-example",
        user_token_getter=user_token,
    )
)
mcp = FastMCP("alter-mcp-example")


@mcp.tool(annotations={"readOnlyHint": True})
@alter.tool(provider="demo")
async def whoami(ctx: AlterContext) -> dict:
    """Return the demo account the user connected."""
    response = await ctx.request("GET", f"{DEMO_API_URL}/me")
    return response.json()


app = mcp.http_app(path="/mcp", stateless_http=True, json_response=True)
