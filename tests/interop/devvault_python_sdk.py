"""Drive a running DevVault with the official Python SDK (alter-sdk 0.29.0).

DevVault must run with auto-approve. The script reads ALTER_BASE_URL, ALTER_API_KEY and
ALTER_DEMO_API_URL, and takes the user name as its only argument.

It checks that a user without a grant gets GrantNotFoundError, then connects the demo provider
through a connect session. Then it calls the demo API with request() twice. The first call
comes from a client without a caller, which signs legacy strings until it caches the actor id.
The second comes from a client with a caller, which always signs v2 strings. On success the
script prints one JSON line with the user, the grant id and the /me response, and on failure it
raises.
"""

import asyncio
import json
import os
import sys
import urllib.request

from alter_sdk import App, GrantNotFoundError


def mint_user_token(base_url: str, user: str) -> str:
    request = urllib.request.Request(f"{base_url}/dev/users/{user}/token", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["user_token"]


def open_connect_url(connect_url: str) -> int:
    # urllib follows the 303 redirects: connect page, demo consent, callback.
    with urllib.request.urlopen(connect_url, timeout=30) as response:
        return response.status


async def main(user: str) -> dict:
    base_url = os.environ["ALTER_BASE_URL"]
    demo_api = os.environ["ALTER_DEMO_API_URL"]
    api_key = os.environ["ALTER_API_KEY"]
    user_token = mint_user_token(base_url, user)

    plain = App(api_key=api_key)
    agent = App(api_key=api_key, caller="interop-agent", caller_type="agent")
    try:
        try:
            await plain.request("GET", f"{demo_api}/me", provider="demo", user_token=user_token)
            raise AssertionError("a user without a grant must get GrantNotFoundError")
        except GrantNotFoundError as error:
            assert error.provider_id == "demo", error.provider_id

        session = await plain.create_connect_session(
            allowed_providers=["demo"],
            user_token=user_token,
            required_scopes={"demo": ["messages.write"]},
        )
        assert open_connect_url(session.connect_url) == 200
        results = await plain.poll_connect_session(
            session.session_token, timeout=30, poll_interval=0.2
        )
        assert len(results) == 1, results
        grant = results[0]
        assert grant.provider_id == "demo", grant
        assert grant.account_identifier == user, grant

        me = await plain.request(
            "GET",
            f"{demo_api}/me",
            provider="demo",
            user_token=user_token,
            reason="interop profile check",
            context={"tool": "interop"},
        )
        assert me.status_code == 200, me.text
        assert me.json()["user"] == user, me.text

        posted = await agent.request(
            "POST",
            f"{demo_api}/messages",
            grant_id=grant.grant_id,
            user_token=user_token,
            json={"text": "hello from python"},
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["from"] == user, posted.text
    finally:
        await plain.close()
        await agent.close()

    return {"user": user, "grant_id": grant.grant_id, "me": me.json()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
