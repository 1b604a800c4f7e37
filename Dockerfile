# mlpq: one image for the API (gunicorn), the training worker (celery) and flower.
#
#   docker build .                                        # dependencies from PyPI
#   docker build --build-arg WHEELHOUSE=1 .               # air-gapped: only ./wheelhouse/*.whl
#   docker build --build-arg PYTHON_IMAGE=my/python:3.11 .  # another Python 3.11+ base image
#
# README's "With Docker" section says how to fill ./wheelhouse. The dependencies go into a
# virtual environment (/opt/mlpq) and mlpq itself beside it (/opt/mlpq-app, found through a .pth
# file), each built in its own stage; the final stage copies only those two directories onto a
# fresh base, so no wheelhouse, pip cache, pip or setuptools reaches the image, and a source edit
# rebuilds only the small /opt/mlpq-app layer.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS dependencies
# Non-empty: install with --no-index from the wheels in ./wheelhouse (no network needed).
ARG WHEELHOUSE=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/mlpq/bin:$PATH
RUN python3 -m venv /opt/mlpq \
 && python -c "import pathlib, sysconfig; \
pathlib.Path(sysconfig.get_paths()['purelib'], 'mlpq-app.pth').write_text('/opt/mlpq-app\n')"
COPY wheelhouse/ /wheelhouse/
# Read from pyproject.toml alone, so editing the source reuses this layer.
COPY pyproject.toml /src/
RUN cd /src \
 && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['monitoring']))" > /tmp/requirements.txt \
 && pip install ${WHEELHOUSE:+--no-index --find-links /wheelhouse} -r /tmp/requirements.txt

FROM dependencies AS app
# A build argument lasts one stage: declared again here.
ARG WHEELHOUSE=
COPY README.md /src/
COPY engine /src/engine
COPY worker /src/worker
COPY api /src/api
COPY mlpq /src/mlpq
RUN pip install --no-deps ${WHEELHOUSE:+--no-index --find-links /wheelhouse} \
    --target /opt/mlpq-app /src

# pip and setuptools only build the environment; the image does not need them to run.
FROM dependencies AS runtime
RUN pip uninstall --yes pip setuptools


FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/mlpq-app/bin:/opt/mlpq/bin:$PATH \
    MLPQ_HOME=/data \
    MLPQ_ARTIFACT_DIR=/data/artifacts \
    MLPQ_DATA_DIR=/data/datasets
RUN useradd --create-home --uid 10001 --user-group mlpq \
 && mkdir -p /data/artifacts /data/datasets \
 && chown -R mlpq:mlpq /data
COPY --from=runtime /opt/mlpq /opt/mlpq
COPY --from=app /opt/mlpq-app /opt/mlpq-app
WORKDIR /home/mlpq

# A named volume mounted on /data/... starts as a copy of that directory, owned by mlpq.
USER mlpq
EXPOSE 8000
# The API's liveness (the default command). docker-compose.yml gives the worker and flower
# services their own checks. The base image may have no curl; Python is there anyway.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"]
CMD ["gunicorn", "-c", "python:api.gunicorn_conf", "--bind", "0.0.0.0:8000", "api:create_app()"]
