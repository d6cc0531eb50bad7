// swagger-ui-dist ships no types; only what src/docs/main.ts calls is declared.
declare module "swagger-ui-dist/swagger-ui-es-bundle.js" {
  interface Options {
    url: string;
    dom_id: string;
    deepLinking?: boolean;
    tryItOutEnabled?: boolean;
    requestInterceptor?: (request: { url: string; headers: Record<string, string> }) => unknown;
  }
  export default function SwaggerUIBundle(options: Options): unknown;
}
