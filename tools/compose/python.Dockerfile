# The local Python base for machines without a registry: Debian bookworm (imported from
# debootstrap by tools/compose/base-image.sh) + Debian's python3 (3.11, the version the pins are
# for) + venv + CA certificates, with any extra CAs from certs/ trusted (intercepting proxies).
# `python` is linked to python3 so the service Dockerfiles run the same on python:3.11-slim.
ARG DEBIAN_IMAGE=shelter-watch/debian:bookworm
FROM ${DEBIAN_IMAGE}
ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive
COPY certs/ /usr/local/share/ca-certificates/extra/
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* /usr/local/share/ca-certificates/extra/README.md \
    && update-ca-certificates \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && python -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'
