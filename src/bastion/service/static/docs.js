// Swagger UI for /docs, started from a file because the page's
// Content-Security-Policy allows no inline script. Requests made with
// "Try it out" carry the session's CSRF token (keys entered with
// "Authorize" need none); the validator badge, which would call an outside
// host, is off.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  var csrf = root.dataset.csrf;
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapi,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    persistAuthorization: false,
    requestInterceptor: function (request) {
      if (csrf && new URL(request.url, window.location.href).origin === window.location.origin) {
        request.headers["X-CSRF-Token"] = csrf;
      }
      return request;
    },
  });
});
