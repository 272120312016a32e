import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { HttpSinkConfig } from "@enclave/contracts";
import { readSecret } from "@enclave/runtime/secrets";
import type { AuditSink } from "./sink.js";

/** The longest error body quoted in a failure (collectors' errors can be large). */
const MAX_ERROR_BODY = 512;

/**
 * JSON lines POSTed to a collector (`application/x-ndjson`, one stored entry per line,
 * exactly as spooled). Any 2xx acknowledges the whole batch.
 */
export function httpSink(cfg: HttpSinkConfig): AuditSink {
  const url = new URL(cfg.url);
  const token = cfg.token ? readSecret(cfg.token) : undefined;
  const tls = {
    ...(cfg.tls?.ca ? { ca: readFileSync(cfg.tls.ca) } : {}),
    ...(cfg.tls?.cert ? { cert: readFileSync(cfg.tls.cert) } : {}),
    ...(cfg.tls?.key ? { key: readSecret(cfg.tls.key) } : {}),
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return {
    name: `${url.protocol}//${url.host}${url.pathname}`,
    deliver(entries, signal) {
      const body = Buffer.from(entries.map((e) => e.json).join("\n") + "\n", "utf8");
      return new Promise<void>((resolve, reject) => {
        const req = send(
          url,
          {
            method: "POST",
            signal,
            ...(url.protocol === "https:" ? tls : {}),
            headers: {
              "content-type": "application/x-ndjson",
              "content-length": String(body.length),
              ...(token ? { authorization: `Bearer ${token}` } : {}),
            },
          },
          (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => {
              if (text.length < MAX_ERROR_BODY) text += c;
            });
            res.on("error", reject);
            res.on("end", () => {
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) resolve();
              else reject(new Error(`collector answered HTTP ${status}: ${text.slice(0, MAX_ERROR_BODY).replace(/\s+/g, " ")}`));
            });
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    },
  };
}
