/**
 * A request's body, read no further than `maxBytes`: null as soon as it passes them, and the rest
 * is never taken in. A body sent without a Content-Length (chunked, or streamed over HTTP/2) is
 * otherwise read whole into the isolate's memory before its size can be judged, up to what
 * Cloudflare lets through (100 MB and more), by anyone, before any key or signature is checked.
 */
export async function readCappedBody(request: Request, maxBytes: number): Promise<Uint8Array | null> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
