// A template's run commands as a person writes them: one line per kind of file,
// `.py: python3 {file}`.

export type RunCommands = { [extension: string]: string[] };

/** The lines as the API's `run` map; the first line that does not read as one, if any. */
export function parseRunCommands(text: string): { run: RunCommands } | { bad: string } {
  const run: RunCommands = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    const extension = line.slice(0, colon).trim();
    const command = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    if (colon < 0 || !/^\.[A-Za-z0-9]+$/.test(extension) || command.length === 0) return { bad: line };
    run[extension] = command;
  }
  return { run };
}

/** The map as lines, in the same form. */
export function formatRunCommands(run: { [extension: string]: string[] | undefined }): string {
  return Object.entries(run)
    .map(([extension, command]) => `${extension}: ${(command ?? []).join(" ")}`)
    .join("\n");
}
