"""`POST /slack/events`: Slack's events, slash commands and button clicks (HTTP mode).

The signature is checked here, on the raw bytes, before anything parses the body (an unsigned
body gets 401 whatever it contains); Bolt checks it again and acks; the answer is a lazy listener.
Bolt's dispatch is synchronous, so it runs in the threadpool: the event loop never waits on
the signature check, the first auth.test or the ack.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["slack"])
SLACK_OFF = "Slack is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"


@router.post("/slack/events", response_model=None)
async def slack_events(request: Request) -> Response:
    slack = request.app.state.slack
    if slack is None:
        return JSONResponse(status_code=404, content={"detail": SLACK_OFF})
    body = await request.body()
    verifier = SignatureVerifier(request.app.state.settings.slack_signing_secret)
    if not verifier.is_valid(body, request.headers.get("X-Slack-Request-Timestamp"), request.headers.get("X-Slack-Signature")):
        return JSONResponse(status_code=401, content={"detail": "invalid or missing Slack signature"})
    bolt_request = to_bolt_request(request, body)
    return to_starlette_response(await run_in_threadpool(slack.dispatch, bolt_request))
