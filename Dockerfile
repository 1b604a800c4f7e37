# mlpq: one image for the API (gunicorn), the training worker (celery) and flower.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLPQ_HOME=/data \
    MLPQ_ARTIFACT_DIR=/data/artifacts \
    MLPQ_DATA_DIR=/data/datasets

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so editing the source reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['monitoring']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY README.md ./
COPY engine ./engine
COPY worker ./worker
COPY api ./api
COPY mlpq ./mlpq
RUN pip install --no-deps . \
 && useradd --create-home --uid 10001 --user-group mlpq \
 && mkdir -p /data/artifacts /data/datasets \
 && chown -R mlpq:mlpq /data

# A named volume mounted on /data/... starts as a copy of that directory, owned by mlpq.
USER mlpq
EXPOSE 8000
CMD ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind", "0.0.0.0:8000", "api:create_app()"]
