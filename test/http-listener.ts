import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpListener {
  server: Server;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** Ends its open connections and stops listening. */
  close(): Promise<void>;
}

/** An HTTP listener on a free port of 127.0.0.1 (the callback receivers of tests). */
export async function startHttpListener(handler: RequestListener): Promise<HttpListener> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
