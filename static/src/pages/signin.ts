// Signing in: with a username and password (a local account, or the school's directory when the
// server has one), with the school's identity provider (a button that leaves for it), or by
// registering first when the server lets anyone register.

import { api, token } from "../api";
import { alertBox } from "../components/problem";
import { el, go } from "../dom";
import type { Providers } from "../generated/api";
import { t } from "../i18n";
import { session } from "../session";

/** How the server signs people in; asked once per page load. */
let providers: Promise<Providers> | null = null;
function signInProviders(): Promise<Providers> {
  providers ??= api<Providers>("GET", "/auth/providers").catch((error) => {
    providers = null;
    throw error;
  });
  return providers;
}

async function signedIn(accessToken: string) {
  token.set(accessToken);
  await session.open();
  go("#/courses");
}

/** The sign-in page; `problem` is why the last sign-in did not work, when there is one. */
export async function signInPage(app: HTMLElement, problem?: unknown) {
  let offered: Providers = { registration: "closed", ldap: false, oidc: null };
  try {
    offered = await signInProviders();
  } catch (error) {
    problem ??= error;
  }
  let registering = false;
  const draw = () => {
    const username = el("input", { id: "username", name: "username", autocomplete: "username", required: true });
    const password = el("input", {
      id: "password",
      name: "password",
      type: "password",
      autocomplete: registering ? "new-password" : "current-password",
      required: true,
    });
    const said = el("div", {}, ...(problem ? [alertBox(problem)] : []));
    const submit = el("button", { type: "submit" }, registering ? t("register") : t("signIn"));
    const form = el(
      "form",
      {
        className: "card",
        "aria-label": registering ? t("register") : t("signIn"),
        onsubmit: async (event: Event) => {
          event.preventDefault();
          said.replaceChildren();
          const credentials = { username: username.value, password: password.value };
          try {
            if (registering) await api("POST", "/auth/register", credentials);
            const login = await api<{ access_token: string }>("POST", "/auth/login", credentials);
            await signedIn(login.access_token);
          } catch (error) {
            said.replaceChildren(alertBox(error));
          }
        },
      },
      el("h1", {}, registering ? t("register") : t("signIn")),
      ...(offered.oidc && !registering
        ? [
            el(
              "button",
              {
                type: "button",
                className: "sso",
                // Leaves for the provider; it sends the browser back to /#/sso.
                onclick: () => location.assign("/api/v1/auth/oidc/start"),
              },
              t("signInWith", { label: offered.oidc.label }),
            ),
            el("p", { className: "or" }, t("orWithPassword")),
          ]
        : []),
      el("label", { htmlFor: "username" }, t("username")),
      username,
      el("label", { htmlFor: "password" }, t("password")),
      password,
      ...(offered.ldap && !registering ? [el("p", { className: "hint" }, t("directoryHint"))] : []),
      said,
      submit,
      ...(offered.registration === "open"
        ? [
            el(
              "p",
              {},
              registering ? t("haveAccount") : t("needAccount"),
              " ",
              el(
                "button",
                {
                  type: "button",
                  className: "link",
                  onclick: () => {
                    registering = !registering;
                    problem = undefined;
                    draw();
                  },
                },
                registering ? t("signIn") : t("register"),
              ),
            ),
          ]
        : []),
    );
    app.replaceChildren(form);
  };
  draw();
}

/** Where the identity provider's sign-in ends (`#/sso`): the page takes the token the server
 * kept for this browser (it never travels in a URL), or shows why there is none. */
export async function finishSignIn(app: HTMLElement) {
  app.replaceChildren(el("p", { role: "status" }, t("signingIn")));
  try {
    const login = await api<{ access_token: string }>("POST", "/auth/oidc/token");
    await signedIn(login.access_token);
  } catch (error) {
    history.replaceState(null, "", "#/signin");
    await signInPage(app, error);
  }
}
