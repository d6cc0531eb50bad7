// What every page is given: where to draw, the route's argument, and how to say what leaving
// the page (or the connection coming back) should do.

export type PageContext = {
  /** The part of the route after the page's name (`#/logs/<id>`), if any. */
  arg: string;
  /** A further part of the route (`#/ide/<id>/<folder>`), decoded; empty when none. */
  sub: string;
  /** Runs when the page is left: streams cancelled, timers stopped. */
  onLeave(cleanup: () => void): void;
  /** Replaces what happens when the WebSocket is back after a drop (by default, a page that
   * streams is drawn again and the others keep what was typed into them). */
  onReconnect(restart: (() => void) | null): void;
};

export type Page = (app: HTMLElement, context: PageContext) => Promise<void> | void;
