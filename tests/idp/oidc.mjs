// A real OpenID Connect provider for berth's sign-in tests: node-oidc-provider with a login form
// of its own, checking passwords against an accounts file that the test writes (and may rewrite
// between sign-ins: it is read at every login). Listens on 127.0.0.1 only.
//
//   node oidc.mjs --port P --accounts FILE --client-id ID --client-secret S --redirect-uri URL
//
// The accounts file: {"ada": {"password": "...", "name": "Ada", "groups": ["teachers"],
// "disabled": false}}. An account's key is its `sub` and its `preferred_username`.

import { readFileSync } from "node:fs";
import http from "node:http";
import { parseArgs } from "node:util";

import Provider from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    accounts: { type: "string" },
    "client-id": { type: "string" },
    "client-secret": { type: "string" },
    "redirect-uri": { type: "string" },
  },
});
const issuer = `http://127.0.0.1:${args.port}`;
const accounts = () => JSON.parse(readFileSync(args.accounts, "utf8"));

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: args["client-id"],
      client_secret: args["client-secret"],
      redirect_uris: [args["redirect-uri"]],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  claims: { openid: ["sub"], profile: ["preferred_username", "name"], groups: ["groups"] },
  scopes: ["openid", "profile", "groups"],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ["berth-test-idp-cookie-key"] },
  async findAccount(_ctx, sub) {
    const account = accounts()[sub];
    if (!account || account.disabled) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, preferred_username: sub, name: account.name, groups: account.groups ?? [] }),
    };
  },
  // berth is this provider's only (first-party) client: no consent screen.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope("openid profile groups");
    await grant.save();
    return grant;
  },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginForm(res, uid, problem) {
  res.writeHead(problem ? 401 : 200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html lang="en"><head><title>School sign-in</title></head><body>
<main><h1>School sign-in</h1>${problem ? `<p role="alert">${escape(problem)}</p>` : ""}
<form method="post" action="/interaction/${escape(uid)}/login" aria-label="School sign-in">
<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Continue</button></form></main></body></html>`);
}

async function body(req) {
  let text = "";
  for await (const chunk of req) text += chunk;
  return new URLSearchParams(text);
}

async function interaction(req, res) {
  const [, , uid, action] = new URL(req.url, issuer).pathname.split("/");
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error("interaction mismatch");
  if (req.method === "GET") return loginForm(res, uid);
  if (action !== "login" || req.method !== "POST") {
    res.writeHead(404).end();
    return;
  }
  const form = await body(req);
  const username = form.get("username") ?? "";
  const account = accounts()[username];
  if (!account || account.password !== form.get("password")) return loginForm(res, uid, "Wrong username or password.");
  if (account.disabled) return loginForm(res, uid, "This account is disabled.");
  await provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
}

const handle = provider.callback();
http
  .createServer((req, res) => {
    if (req.url.startsWith("/interaction/")) {
      interaction(req, res).catch((error) => {
        res.writeHead(400, { "content-type": "text/plain" }).end(String(error?.message ?? error));
      });
    } else {
      handle(req, res);
    }
  })
  .listen(Number(args.port), "127.0.0.1", () => console.log(`idp: listening on ${issuer}`));
