// /docs: Swagger UI (served from its pip package, so it works offline) on the OpenAPI document.
"use strict";

window.SwaggerUIBundle({
  url: document.currentScript.dataset.specUrl,
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
});
