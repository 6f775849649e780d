"""The HTTP API (``cmm serve``): FastAPI routes that parse a request, call one use case of
:mod:`application` and shape its answer. :mod:`infra.http.rules` holds the one
authorisation rule every route declares; :func:`infra.http.app.create_app` refuses to build
an app with a route that has none.
"""
