"""Sign-in for the page: ``POST /session`` with a token sets the session cookie; ``DELETE`` signs out.

``GET /session`` says who the caller is (or that sign-in is needed), so the page
shows only the sign-in form to someone without a session.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, Field

from api import session
from api.deps import LOCAL_USER, MaybeUserDep, StateDep, public
from miner import access

router = APIRouter(prefix="/session", tags=["session"])
BAD_TOKEN = "访问令牌无效 / the access token is not valid"


class SignIn(BaseModel):
    token: str = Field(min_length=1, max_length=500)


def _who(user: access.User | None, state: StateDep) -> dict:
    multi = bool(state.users())
    if user is None:
        return {"signed_in": False, "multi_user": multi}
    return {
        "signed_in": True,
        "multi_user": multi,
        "user": user.name,
        "can_write": user.can_write,
        "issuer_kinds": user.allowed_kinds(),
    }


@router.get("")
@public
def who(user: MaybeUserDep, state: StateDep) -> dict:
    """Who the caller is: user name, whether they may write, the kinds of body they may read."""
    return _who(user, state)


@router.post("")
@public
def sign_in(body: SignIn, response: Response, state: StateDep) -> dict:
    """Exchange an access token for an HttpOnly, SameSite=Strict session cookie."""
    users = state.users()
    if not users:
        return _who(LOCAL_USER, state)  # single-user mode: nothing to sign in to
    user = access.authenticate(users, body.token.strip())
    if user is None:
        raise HTTPException(401, detail=BAD_TOKEN)
    settings = state.workspace.settings
    response.set_cookie(
        session.COOKIE,
        session.issue(state.secret, user, settings.session_hours),
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.session_secure,
        path="/",
    )
    return _who(user, state)


@router.delete("")
@public
def sign_out(response: Response, state: StateDep) -> dict:
    """End the session on this browser (the cookie is cleared)."""
    response.delete_cookie(session.COOKIE, path="/", httponly=True, samesite="strict")
    return {"signed_in": False, "multi_user": bool(state.users())}
