import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { SecureContextOptions } from "node:tls";
import type { AddressInfo } from "node:net";
import type { GatewayListener, ListenerTls } from "@enclave/contracts";

/** TLS 1.2 suites with forward secrecy and AEAD only; TLS 1.3 suites are all modern. */
export const MODERN_CIPHERS = [
  "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
].join(":");

/** The certificate, key and client CA as read from their files now (throws naming the file). */
export function readTlsFiles(tls: ListenerTls): SecureContextOptions {
  const read = (what: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`TLS ${what} file ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    }
  };
  return {
    cert: read("certificate", tls.cert),
    key: read("key", tls.key),
    ...(tls.clientCa ? { ca: read("client CA", tls.clientCa) } : {}),
  };
}

export interface RunningListener {
  readonly url: string;
  readonly server: Server | HttpsServer;
  /** Re-reads certificate files; new handshakes use them, open connections keep theirs. */
  reloadTls(): void;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * One client-facing listener: HTTPS (TLS 1.2+, modern ciphers, optional or
 * required client certificates) or, when the config says so, plain HTTP.
 */
export async function startListener(l: GatewayListener, handler: Handler, tune: (s: Server) => void): Promise<RunningListener> {
  let server: Server | HttpsServer;
  let reloadTls = () => undefined as void;
  if (l.tls) {
    const tls = l.tls;
    const https = createHttpsServer(
      {
        ...readTlsFiles(tls),
        minVersion: tls.minVersion,
        ciphers: MODERN_CIPHERS,
        honorCipherOrder: true,
        requestCert: tls.clientCa !== undefined,
        rejectUnauthorized: tls.requireClientCert,
      },
      handler,
    );
    reloadTls = () => https.setSecureContext({ ...readTlsFiles(tls), minVersion: tls.minVersion, ciphers: MODERN_CIPHERS, honorCipherOrder: true });
    server = https;
  } else {
    server = createHttpServer(handler);
  }
  tune(server as Server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(l.port, l.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = l.host.includes(":") ? `[${l.host}]` : l.host;
  return { url: `${l.tls ? "https" : "http"}://${host}:${port}`, server, reloadTls };
}

export async function closeListener(l: RunningListener): Promise<void> {
  await new Promise<void>((resolve) => {
    l.server.close(() => resolve());
    l.server.closeIdleConnections();
  });
}
