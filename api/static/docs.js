// /docs: Swagger UI when its script loads, else a plain list of routes from the OpenAPI document.
"use strict";

const specUrl = document.currentScript.dataset.specUrl;

function startSwaggerUI() {
  window.SwaggerUIBundle({ url: specUrl, dom_id: "#swagger-ui", deepLinking: true });
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

let fallbackShown = false;

async function showPlainRoutes() {
  if (fallbackShown) return;
  fallbackShown = true;
  document.getElementById("fallback").hidden = false;
  const routes = document.getElementById("routes");
  const spec = await (await fetch(specUrl)).json();
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (method === "parameters") continue;
      const section = element("section", undefined, "card");
      const title = element("h3");
      title.append(element("span", method.toUpperCase(), "method"), " ", element("code", path));
      section.append(title, element("p", operation.summary || ""));
      if (operation.description) section.append(element("p", operation.description, "muted"));
      const codes = Object.keys(operation.responses || {}).join(", ");
      section.append(element("p", "responses: " + codes, "muted"));
      routes.append(section);
    }
  }
}

// Scripts that never answer (a network that drops packets) get the fallback too.
setTimeout(() => { if (!window.SwaggerUIBundle) showPlainRoutes(); }, 5000);
