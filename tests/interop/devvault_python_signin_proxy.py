"""Drive a running DevVault's sign-in sessions and proxy mode with the official Python SDK
(alter-sdk 0.29.0).

DevVault must run with auto-approve, sign in as the user this script is given, and require
approvals for proxy calls. The script reads ALTER_BASE_URL, ALTER_API_KEY and
ALTER_DEMO_API_URL, and takes the user name as its only argument.

It signs the user in through a sign-in session (auto-approve completes it at creation),
verifies the token, connects the demo provider with the signed-in user's token,
then sends a proxied GET /me that waits for an approval, grants it by opening the approval
page, and awaits the result. On success it prints one JSON line with the signed-in subject,
the approval id and the /me response, and on failure it raises.
"""

import asyncio
import json
import os
import sys
import urllib.request

from alter_sdk import App
from alter_sdk.models import PendingApproval


def open_url(url: str) -> int:
    # urllib follows redirects, like a browser.
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status


async def main(user: str) -> dict:
    demo_api = os.environ["ALTER_DEMO_API_URL"]
    app = App(api_key=os.environ["ALTER_API_KEY"])
    try:
        session = await app.create_auth_session()
        signed_in = await app.poll_auth_session(
            session.session_token, timeout=30, poll_interval=0.2
        )
        subject = await app.verify_user_token(signed_in.user_token)
        assert subject == user, subject
        assert await app.verify_user_token("not.a.jwt") is None

        connect = await app.create_connect_session(
            allowed_providers=["demo"], user_token=signed_in.user_token
        )
        assert open_url(connect.connect_url) == 200
        await app.poll_connect_session(connect.session_token, timeout=30, poll_interval=0.2)

        pending = await app.proxy_request(
            "GET", f"{demo_api}/me", provider="demo", user_token=signed_in.user_token
        )
        assert isinstance(pending, PendingApproval), pending
        assert open_url(pending.approval_url) == 200
        result = await app.await_approval(str(pending.approval_id), timeout=30, poll_interval=0.2)
        assert result.status_code == 200, result.status_code
        return {
            "subject": subject,
            "approval_id": str(pending.approval_id),
            "result_approval_id": str(result.approval_id),
            "me": result.body_json(),
        }
    finally:
        await app.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))
