FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# WeasyPrint needs Pango; fonts for PDFs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
    fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Exact versions with hashes from `make lock`; the project is then installed without its deps.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY . .
RUN pip install --no-deps . && useradd --system --home /app emar \
 && mkdir -p /app/var /app/media /app/audit-checkpoints \
 && chown -R emar /app/var /app/media /app/audit-checkpoints
ENV STATIC_MANIFEST=1 EMAR_VAR_DIR=/app/var
RUN SECRET_KEY=build python manage.py collectstatic --noinput
USER emar
EXPOSE 8000
CMD ["gunicorn", "emar.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
