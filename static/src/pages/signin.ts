// Signing in (or registering, then signing in) with a username and password.

import { api, token } from "../api";
import { alertBox } from "../components/problem";
import { el, go } from "../dom";
import { t } from "../i18n";
import { session } from "../session";

export function signInPage(app: HTMLElement) {
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
    const problem = el("div");
    const submit = el("button", { type: "submit" }, registering ? t("register") : t("signIn"));
    const form = el(
      "form",
      {
        className: "card",
        "aria-label": registering ? t("register") : t("signIn"),
        onsubmit: async (event: Event) => {
          event.preventDefault();
          problem.replaceChildren();
          const credentials = { username: username.value, password: password.value };
          try {
            if (registering) await api("POST", "/auth/register", credentials);
            const login = await api<{ access_token: string }>("POST", "/auth/login", credentials);
            token.set(login.access_token);
            await session.open();
            go("#/courses");
          } catch (error) {
            problem.replaceChildren(alertBox(error));
          }
        },
      },
      el("h1", {}, registering ? t("register") : t("signIn")),
      el("label", { htmlFor: "username" }, t("username")),
      username,
      el("label", { htmlFor: "password" }, t("password")),
      password,
      problem,
      submit,
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
              draw();
            },
          },
          registering ? t("signIn") : t("register"),
        ),
      ),
    );
    app.replaceChildren(form);
  };
  draw();
}
