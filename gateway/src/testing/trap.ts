import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";

/** A listener that only counts who connects (and hangs up on them): proof that nothing was dialled. */
export interface Trap {
  readonly host: string;
  readonly port: number;
  /** `http://host:port`, brackets around IPv6. */
  readonly url: string;
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTrap(host: string): Promise<Trap> {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host,
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    get connections() {
      return connections;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
