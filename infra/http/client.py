"""A small Python client of the HTTP API, for analysts and case workers in a notebook:
reports and cases as pandas DataFrames, every coded column with its label beside it.

    from infra.http.client import Client
    api = Client("http://127.0.0.1:8000", token)
    tables = api.report(2012, "2013-01-31")
    tables["by_exploitation"]

Codes stay codes (``NA`` is Namibia, not a missing value); ``COLUMN_label`` holds the
English label (``lang="da"``: Danish).
"""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd


class ApiError(RuntimeError):
    """The API refused a request; the message is the API's own (it names the field)."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Client:
    """``base_url`` and a bearer token (``cmm users add``); ``http``: an ``httpx.Client`` to
    send through instead (its own base URL), e.g. a test's."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        token: str | None = None,
        *,
        lang: str = "en",
        http: httpx.Client | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.lang = lang
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self._headers = {} if token is None else {"Authorization": f"Bearer {token}"}

    def _get(self, path: str, **params: Any) -> Any:
        answer = self._http.get(
            path, params={k: v for k, v in params.items() if v is not None}, headers=self._headers
        )
        if answer.status_code != 200:
            try:
                detail = answer.json().get("detail")
            except ValueError:
                detail = answer.text
            raise ApiError(answer.status_code, detail)
        return answer.json()

    def _labelled(self, rows: list[dict[str, Any]], labels: dict[str, Any]) -> pd.DataFrame:
        frame = pd.DataFrame(rows)
        for column in list(frame.columns):
            names = labels.get(str(column))
            if names:
                position = frame.columns.get_loc(column)
                assert isinstance(position, int)
                values = frame[column].map(
                    lambda code, names=names: (
                        None if code is None else names.get(str(code), {}).get(self.lang)
                    )
                )
                frame.insert(position + 1, f"{column}_label", values)
        return frame

    def report(self, year: int, as_of: str) -> dict[str, pd.DataFrame]:
        """The exact annual report of ``year`` as of ``as_of`` (role ``analyst``): one
        DataFrame a table, with ``attrs`` saying the year, cut-off and code-list version."""
        document = self._get(f"/v1/reports/{int(year)}", as_of=as_of)
        tables = {}
        for name, rows in document["tables"].items():
            frame = self._labelled(rows, document["labels"])
            frame.attrs = {
                k: document[k] for k in ("year", "as_of", "code_list_version") if k in document
            }
            tables[name] = frame
        return tables

    def cases(self, *, flagged: bool = False) -> pd.DataFrame:
        """The cases (role ``case_worker``); ``flagged``: only those to look at."""
        return pd.DataFrame(self._get("/v1/cases", flagged=str(flagged).lower()))

    def case(self, person_ref: str) -> tuple[dict[str, Any], pd.DataFrame]:
        """One case's current state and its timeline, one event a row (role
        ``case_worker``)."""
        found = self._get(f"/v1/cases/{person_ref}")
        return found["case"], pd.DataFrame(found["timeline"])

    def releases(self) -> list[dict[str, Any]]:
        """The published releases (no token needed)."""
        result: list[dict[str, Any]] = self._get("/v1/releases")
        return result
