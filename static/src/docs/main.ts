// The API reader at /docs: Swagger UI (from npm, bundled here) over the server's own
// /api/v1/openapi.json. "Try it out" sends the token of this tab's sign-in, if there is one,
// so a signed-in person tries the API as themselves; the token is never put in a URL.
import SwaggerUIBundle from "swagger-ui-dist/swagger-ui-es-bundle.js";
import "swagger-ui-dist/swagger-ui.css";

interface Request {
  url: string;
  headers: Record<string, string>;
}

SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  tryItOutEnabled: false,
  requestInterceptor: (request: Request) => {
    const token = sessionStorage.getItem("berth.token");
    const sameOrigin = new URL(request.url, location.href).origin === location.origin;
    if (token && sameOrigin && !request.headers.Authorization) {
      request.headers.Authorization = `Bearer ${token}`;
    }
    return request;
  },
});
