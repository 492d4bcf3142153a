/** A received Server-Sent Event. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** A minimal SSE client over fetch: collects events and comment lines until closed. */
export interface SseClient {
  events: SseEvent[];
  comments: string[];
  status: number;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  const client: SseClient = { events: [], comments: [], status: res.status, close: () => controller.abort() };
  if (!res.ok || !res.body) return client;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { data: "" };
          let isEvent = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) client.comments.push(line.slice(1).trim());
            else if (line.startsWith("id: ")) event.id = line.slice(4);
            else if (line.startsWith("event: ")) event.event = line.slice(7);
            else if (line.startsWith("data: ")) {
              event.data += line.slice(6);
              isEvent = true;
            }
          }
          if (isEvent) client.events.push(event);
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return client;
}
