// A stream on the tab's session, with what to do as it runs and how it ends.

import type { ClientMessage, ServerMessage } from "../generated/api";
import { session } from "../session";

type Ending = Extract<ServerMessage, { type: "end" | "exit" }>;
type Running = Exclude<ServerMessage, { type: "end" | "exit" | "error" }>;

export type StreamCallbacks = {
  onBytes?: (channel: number, bytes: Uint8Array) => void;
  /** Every message while it runs (`started`, `progress`, `stats`, …). */
  onMessage?: (message: Running) => void;
  /** Its last message: `end` or `exit`. */
  onEnd?: (message: Ending) => void;
  /** An `error` about it (which ends it, unless it was about a single input). */
  onError?: (code: string, message: string) => void;
  /** The connection dropped under it: it is over. */
  onLost?: () => void;
};

export class StreamHandle {
  constructor(readonly id: number) {}

  cancel() {
    session.send({ type: "cancel", stream: this.id });
  }
}

/** Opens the session if need be, takes a stream id, and sends what `request` makes of it. */
export async function startStream(
  callbacks: StreamCallbacks,
  request: (stream: number) => ClientMessage,
): Promise<StreamHandle> {
  await session.open();
  const id = session.stream({
    onBytes: callbacks.onBytes,
    onMessage: (message) => {
      if (message.type === "lost") callbacks.onLost?.();
      else if (message.type === "resumed") return;
      else if (message.type === "error") callbacks.onError?.(message.code, message.message);
      else if (message.type === "end" || message.type === "exit") callbacks.onEnd?.(message);
      else callbacks.onMessage?.(message);
    },
  });
  session.send(request(id));
  return new StreamHandle(id);
}
