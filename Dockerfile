# The archviz dashboard, one image for each of its processes: `serve` (HTTP and websockets), `watch` (a Docker
# daemon's events) and `migrate`. compose.yaml runs them; README.md, "Deployment", says how. Only what
# .dockerignore lets in is sent to the build.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ARCHVIZ_DATA_DIR=/var/lib/archviz

# An unprivileged user. The web processes need no Docker socket; compose.yaml gives the watcher the socket's group.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/archviz --create-home \
      --shell /usr/sbin/nologin archviz

WORKDIR /app
# The dependencies first, read from pyproject.toml alone, so that a change to the code reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > /tmp/requirements.txt \
 && pip install --requirement /tmp/requirements.txt \
 && rm /tmp/requirements.txt
# The code runs where it lies, as in a checkout: the settings find templates/ and static/ beside dashboard/.
COPY manage.py ./
COPY dashboard/ dashboard/
COPY archviz/ archviz/
COPY templates/ templates/
COPY static/ static/

USER archviz
EXPOSE 8000
ENTRYPOINT ["python", "manage.py"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--no-watch"]
