"""shelter-kit: the plumbing every Shelter Watch service pins, once.

Modules, one idea each:

- `logs`        JSON log lines (python-json-logger) with the service and request id
- `context`     the request's context variables: request id, W3C traceparent, public path
- `middleware`  the pure-ASGI request middleware: ids in and out, HTTP metrics, access log,
                HEAD wherever GET works, the catch-all 500
- `problems`    RFC 9457 problem+json bodies: one `type` scheme, one title style
- `handlers`    the exception handlers that map a service's domain errors to statuses
- `ops`         the /healthz, /readyz and /metrics routes
- `bodies`      bounded request-body readers (framework-free)
- `bodylimit`   the cap on bodies a route reads whole (JSON, forms, text) and on URLs
- `store`       the Redis client with its reconnect-once rule and error translation
- `magic`       the accepted image type a blob's first bytes announce (no Pillow)
- `images`      what a valid frame is, once for ingest and the classifier (extra `[images]`)
- `deps`        `Annotated` dependencies that reach the parts a lifespan put on app.state
- `docs`        Swagger UI from local files (the pinned `fastapi-offline`'s): `/docs` offline
- `service`     `install()`: all of the above on one FastAPI app

What is deliberately NOT here: wire schemas (each service models what it reads), domain errors
(each service's `errors.py`), settings classes (each service's `config.py`).
"""

from shelter_kit.service import install

__version__ = "1.0.0"
__all__ = ["__version__", "install"]
