// A workspace's files through the files API, as the IDE uses them.

import { api, request } from "../../api";
import type { Entry } from "../../generated/api";

export class WorkspaceFiles {
  constructor(private readonly workspace: string) {}

  private url(what: string, path: string) {
    return `/workspaces/${this.workspace}/files${what}?path=${encodeURIComponent(path)}`;
  }

  list(dir: string): Promise<Entry[]> {
    return api<Entry[]>("GET", this.url("", dir));
  }

  async read(path: string): Promise<string> {
    return (await request("GET", this.url("/content", path))).text();
  }

  async write(path: string, text: string): Promise<void> {
    await request("PUT", this.url("/content", path), { raw: text });
  }

  async remove(path: string): Promise<void> {
    await request("DELETE", this.url("", path));
  }

  async move(from: string, to: string): Promise<void> {
    await api("POST", `/workspaces/${this.workspace}/files/move`, { from, to });
  }
}
