"""What the API's and the pages' routes share: the database the app was made with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sync.server.db import Database


def database(request: Request) -> Database:
    return request.app.state.database


DatabaseDep = Annotated[Database, Depends(database)]
