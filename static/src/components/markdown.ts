// Markdown a teacher wrote (an assignment's instructions), rendered by `marked` and sanitized by
// DOMPurify before it reaches the page: no script, handler or frame a teacher (or anyone who
// took over their account) wrote runs in a student's browser.

import DOMPurify from "dompurify";
import { marked } from "marked";
import { el } from "../dom";

export function markdown(text: string, label: string): HTMLElement {
  const html = marked.parse(text, { async: false, gfm: true });
  const clean = DOMPurify.sanitize(html, { FORBID_TAGS: ["style", "form", "input"] });
  const node = el("article", { className: "markdown", "aria-label": label });
  node.innerHTML = clean;
  // Links go to a tab of their own, so the IDE stays.
  for (const link of node.querySelectorAll("a")) {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  return node;
}
