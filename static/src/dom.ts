// Small DOM helpers every page uses.

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Record<string, any> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    // A property where there is one, else (or where the property is read-only, as an input's
    // `list`) the attribute.
    else if (key in node && key !== "list") (node as any)[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

/** The line at the top of the page that says the connection is being restored. */
export function banner(text: string | null) {
  const node = document.getElementById("banner")!;
  node.hidden = !text;
  node.textContent = text ?? "";
}

/** Goes to a page (the router listens for hash changes; the same page is drawn again). */
export function go(hash: string) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
