// Log lines as the engine sends them (with timestamps), split from a stream's bytes, and
// joined to the lines read before them.

/** One log line as the engine sends it with timestamps: "<RFC 3339 time> <text>". */
export type Line = { stamp: string; text: string; stderr: boolean };

/** Splits a stream's bytes into lines, per channel, keeping a line's start until its end comes. */
export class LineSplitter {
  private partial = ["", "", ""];
  private decoders = [new TextDecoder(), new TextDecoder(), new TextDecoder()];

  push(channel: number, bytes: Uint8Array, out: Line[]) {
    const text = this.partial[channel] + this.decoders[channel].decode(bytes, { stream: true });
    const parts = text.split("\n");
    this.partial[channel] = parts.pop() ?? "";
    for (const part of parts) out.push(parse(part, channel === 2));
  }

  /** The unfinished lines, when the stream has ended. */
  flush(out: Line[]) {
    for (const channel of [1, 2]) {
      if (this.partial[channel]) out.push(parse(this.partial[channel], channel === 2));
      this.partial[channel] = "";
    }
  }
}

export function parse(raw: string, stderr: boolean): Line {
  const space = raw.indexOf(" ");
  return space < 0
    ? { stamp: raw, text: "", stderr }
    : { stamp: raw.slice(0, space), text: raw.slice(space + 1), stderr };
}

/** The lines of `history` that come before `lines[0]`. Lines written in the same nanosecond
 * share a stamp, so those at the boundary are matched by count. */
export function olderThan(history: Line[], lines: Line[]): Line[] {
  if (lines.length === 0) return history;
  const boundary = lines[0].stamp;
  let held = 0;
  while (held < lines.length && lines[held].stamp === boundary) held++;
  let end = history.findIndex((line) => line.stamp > boundary);
  if (end < 0) end = history.length;
  let start = end;
  while (start > 0 && history[start - 1].stamp === boundary) start--;
  return history.slice(0, Math.max(start, end - held));
}
