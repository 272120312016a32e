import { stat, readFile } from "node:fs/promises";
import { ApiKeysFile, parseConfigText, type GatewayConfig, type Tenant } from "@enclave/contracts";
import type { Logger } from "@enclave/runtime";
import { bearer } from "@enclave/runtime";
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { invalidApiKey, missingApiKey, type StepResult } from "../errors.js";
import { buildKeyIndex, type KeyIndex, type Principal } from "../steps/authenticate.js";

/** A JWT: three base64url parts. API keys never look like this. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_SUBJECT = 128;

export interface CredentialSnapshot {
  keys: KeyIndex;
  jwks: JWTVerifyGetKey | null;
}

/**
 * The credentials the gateway accepts: API key digests from the config (and an
 * optional keys file), and JWTs signed by a key in a local JWKS file. The files
 * are re-read when they change (polled) or on `reload()` (SIGHUP); a file that
 * fails to load keeps the last good credentials and is logged.
 */
export class CredentialStore {
  private snapshot: CredentialSnapshot;
  private mtimes = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;

  private constructor(
    private readonly config: GatewayConfig,
    private readonly log: Logger,
    initial: CredentialSnapshot,
  ) {
    this.snapshot = initial;
  }

  /** Loads everything once; a broken file here is a startup error. */
  static async open(config: GatewayConfig, log: Logger): Promise<CredentialStore> {
    const mtimes = new Map<string, number>();
    const snapshot = await loadSnapshot(config, mtimes);
    const store = new CredentialStore(config, log, snapshot);
    store.mtimes = mtimes;
    if (config.auth.apiKeysFile !== undefined || config.auth.jwt !== undefined) {
      store.timer = setInterval(() => void store.reload(false), config.auth.reloadIntervalMs);
      store.timer.unref();
    }
    return store;
  }

  /** Re-reads the files (all of them when `force`, else only those whose mtime changed). */
  reload(force = true): Promise<void> {
    this.reloading ??= (async () => {
      try {
        if (!force && !(await this.changed())) return;
        const mtimes = new Map<string, number>();
        this.snapshot = await loadSnapshot(this.config, mtimes);
        this.mtimes = mtimes;
        this.log.info({ apiKeysFile: this.config.auth.apiKeysFile, jwksFile: this.config.auth.jwt?.jwksFile }, "credentials reloaded");
      } catch (e) {
        this.log.error({ err: (e as Error).message }, "credentials reload failed; keeping the last good ones");
      } finally {
        this.reloading = undefined;
      }
    })();
    return this.reloading;
  }

  close(): void {
    clearInterval(this.timer);
  }

  /**
   * The principal behind an Authorization header. Synchronous for API keys (the
   * hot path); JWTs are verified against the JWKS (signature, issuer, audience,
   * expiry) and their tenant claim must name a configured tenant.
   */
  authenticate(authorization: string | undefined): StepResult<Principal> | Promise<StepResult<Principal>> {
    const presented = bearer(authorization);
    if (!presented) return { ok: false, error: missingApiKey() };
    const { keys, jwks } = this.snapshot;
    if (jwks !== null && JWT_SHAPE.test(presented)) return this.verifyJwt(presented, jwks);
    const principal = keys.match(presented);
    return principal ? { ok: true, value: principal } : { ok: false, error: invalidApiKey() };
  }

  private async verifyJwt(token: string, jwks: JWTVerifyGetKey): Promise<StepResult<Principal>> {
    const jwt = this.config.auth.jwt!;
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        algorithms: jwt.algorithms,
        clockTolerance: jwt.clockToleranceSec,
        requiredClaims: ["exp"],
      });
      const tenantId = payload[jwt.tenantClaim];
      const tenant = typeof tenantId === "string" ? this.config.tenants.find((t) => t.id === tenantId) : undefined;
      if (!tenant) return { ok: false, error: invalidApiKey() };
      const sub = typeof payload.sub === "string" ? payload.sub.slice(0, MAX_SUBJECT) : "unknown";
      return { ok: true, value: { tenant, keyId: `jwt:${sub}` } };
    } catch {
      // Which check failed (expiry, issuer, signature) is not the caller's business.
      return { ok: false, error: invalidApiKey() };
    }
  }

  private async changed(): Promise<boolean> {
    for (const file of this.files()) {
      const m = await stat(file).then((s) => s.mtimeMs, () => -1);
      if (m !== this.mtimes.get(file)) return true;
    }
    return false;
  }

  private files(): string[] {
    return [this.config.auth.apiKeysFile, this.config.auth.jwt?.jwksFile].filter((f): f is string => f !== undefined);
  }
}

async function loadSnapshot(config: GatewayConfig, mtimes: Map<string, number>): Promise<CredentialSnapshot> {
  let tenants: Tenant[] = config.tenants;
  const keysFile = config.auth.apiKeysFile;
  if (keysFile !== undefined) {
    mtimes.set(keysFile, (await stat(keysFile)).mtimeMs);
    const extra = parseConfigText(ApiKeysFile, await readFile(keysFile, "utf8"), keysFile);
    const byTenant = new Map<string, { id: string; sha256: string }[]>();
    for (const k of extra) {
      if (!config.tenants.some((t) => t.id === k.tenant)) throw new Error(`${keysFile}: key ${k.id} names unknown tenant ${k.tenant}`);
      byTenant.set(k.tenant, [...(byTenant.get(k.tenant) ?? []), { id: k.id, sha256: k.sha256 }]);
    }
    tenants = config.tenants.map((t) => ({ ...t, apiKeys: [...t.apiKeys, ...(byTenant.get(t.id) ?? [])] }));
  }
  const keys = buildKeyIndex(tenants);
  let jwks: JWTVerifyGetKey | null = null;
  if (config.auth.jwt !== undefined) {
    const file = config.auth.jwt.jwksFile;
    mtimes.set(file, (await stat(file)).mtimeMs);
    let set: JSONWebKeySet;
    try {
      set = JSON.parse(await readFile(file, "utf8")) as JSONWebKeySet;
    } catch {
      throw new Error(`${file}: not a JSON JWKS`);
    }
    if (!Array.isArray(set?.keys) || set.keys.length === 0) throw new Error(`${file}: a JWKS needs a non-empty "keys" array`);
    jwks = createLocalJWKSet(set);
  }
  return { keys, jwks };
}
