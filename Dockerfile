# Image for the ledger's command-line tool (`cmm`): the consumer and the
# projector of docker-compose.yml both run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libpq: the PostgreSQL client library, for psycopg when no wheel bundles it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN pip install . \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin cmm

# Nothing in the image needs root at run time.
USER cmm

ENTRYPOINT ["cmm"]
CMD ["--help"]
