// Swagger UI's set-up for shelter-kit's offline /docs page (shelter_kit/docs.py). A file, not an
// inline script, so a strict Content-Security-Policy holds. Settings come from data attributes:
// data-openapi-url, and data-headers (JSON) added to every "Try it out" request.
"use strict";
(() => {
  const root = document.getElementById("swagger-ui");
  const headers = JSON.parse(root.dataset.headers || "{}");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false, // never keep a key in localStorage
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    requestInterceptor: (request) => {
      for (const [name, value] of Object.entries(headers)) request.headers[name] = value;
      return request;
    },
  });
})();
