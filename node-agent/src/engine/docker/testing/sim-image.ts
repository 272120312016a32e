import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { SIM_IMAGE_APP_DIR } from "../../profiles/engine-profile.js";

const run = promisify(execFile);

/**
 * An engine image without a registry: a root filesystem holding this host's `node`
 * (and the libraries it links), and the engine simulator with what it imports, at
 * SIM_IMAGE_APP_DIR, as the `sim` engine profile expects. The tarball is cached in
 * `${ENCLAVE_TEST_CACHE:-/var/cache/enclave-test}/sim-image/`, keyed by everything in
 * it, so a changed simulator (or node) builds a new one and an unchanged one is reused.
 */
export async function simImageTar(): Promise<{ tar: string; key: string }> {
  const app = appFiles();
  const nodeBin = realpathSync(process.execPath);
  const libs = await linkedLibraries(nodeBin);
  const hash = createHash("sha256");
  for (const f of [nodeBin, ...libs]) {
    const st = statSync(f);
    hash.update(`${f}\0${st.size}\0${st.mtimeMs}\0`);
  }
  for (const [dest, src] of app) hash.update(`${dest}\0`).update(readFileSync(src));
  const key = hash.digest("hex").slice(0, 16);

  const dir = join(process.env["ENCLAVE_TEST_CACHE"] ?? "/var/cache/enclave-test", "sim-image");
  const tar = join(dir, `${key}.tar`);
  if (existsSync(tar)) return { tar, key };

  mkdirSync(dir, { recursive: true });
  const stage = mkdtempSync(join(dir, "stage-"));
  try {
    for (const d of ["tmp", "proc", "sys", "dev", "etc", "usr/bin"]) mkdirSync(join(stage, d), { recursive: true });
    chmodSync(join(stage, "tmp"), 0o1777);
    // A merged-/usr host's /lib, /lib64 and /bin are links into /usr; the image gets the same links, not copies.
    for (const top of ["bin", "lib", "lib64", "sbin"]) {
      if (lstatSync(`/${top}`, { throwIfNoEntry: false })?.isSymbolicLink()) symlinkSync(readlinkSync(`/${top}`), join(stage, top));
    }
    for (const f of [nodeBin, ...libs]) place(stage, f);
    if (nodeBin !== "/usr/bin/node") symlinkSync(relative("/usr/bin", nodeBin), join(stage, "usr/bin/node"));
    writeFileSync(join(stage, "etc/passwd"), "root:x:0:0:root:/:/bin/sh\n");
    writeFileSync(join(stage, "etc/group"), "root:x:0:\n");
    for (const [dest, src] of app) {
      mkdirSync(dirname(join(stage, dest)), { recursive: true });
      copyFileSync(src, join(stage, dest));
    }
    // Written aside and renamed: a concurrent run never sees half a tarball.
    const part = `${tar}.${process.pid}.part`;
    await run("tar", ["-C", stage, "-cf", part, "."], { timeout: 120_000 });
    renameSync(part, tar);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  // Older keys are of no more use; the cache holds one image.
  for (const f of readdirSync(dir)) if (f !== `${key}.tar` && f.endsWith(".tar")) rmSync(join(dir, f), { force: true });
  return { tar, key };
}

/**
 * Imports the image under `localhost/enclave-sim:KEY` with the podman CLI and returns that
 * name. (The API's `POST /images/create?fromSrc=-` works too, but podman takes it about
 * three times slower, and this is set-up, not what is under test.)
 */
export async function importSimImage(podman: (args: readonly string[], timeoutMs?: number) => Promise<string>): Promise<string> {
  const { tar, key } = await simImageTar();
  const repo = `localhost/enclave-sim:${key}`;
  await podman(["import", "--quiet", tar, repo], 120_000);
  return repo;
}

/** The shared libraries `ldd` says node needs, the loader included. */
async function linkedLibraries(bin: string): Promise<string[]> {
  const { stdout } = await run("ldd", [bin]);
  const libs = new Set<string>();
  for (const line of stdout.split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.add(m[1]);
  }
  return [...libs];
}

/** Copies a file to its real path in the image and links the name it was found by to it, as on the host. */
function place(stage: string, path: string): void {
  const real = realpathSync(path);
  mkdirSync(join(stage, dirname(real)), { recursive: true });
  if (!existsSync(join(stage, real))) copyFileSync(real, join(stage, real));
  const linkAt = join(realpathSync(dirname(path)), basename(path));
  if (linkAt !== real && !lstatSync(join(stage, linkAt), { throwIfNoEntry: false })) {
    mkdirSync(join(stage, dirname(linkAt)), { recursive: true });
    symlinkSync(relative(dirname(linkAt), real), join(stage, linkAt));
  }
}

/**
 * Files of the simulator and everything it imports, as [path in the image, path here]:
 * the workspace packages' package.json and compiled JavaScript, and each third-party
 * package of the dependency closure as it is installed.
 */
function appFiles(): [string, string][] {
  const root = join(dirname(fileURLToPath(import.meta.url)), "../../../../..");
  const modules = join(root, "node_modules");
  const out = new Map<string, string>();
  const seen = new Set<string>();
  const add = (src: string, dest: string, filter: (rel: string) => boolean) => {
    for (const f of walk(src)) {
      const rel = relative(src, f);
      if (filter(rel)) out.set(join(dest, rel), f);
    }
  };
  const visit = (name: string, from: string) => {
    const found = resolvePackage(name, from, modules);
    if (!found || seen.has(found.dir)) return;
    seen.add(found.dir);
    const pkg = JSON.parse(readFileSync(join(found.dir, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
    const dest = join(SIM_IMAGE_APP_DIR, "node_modules", name);
    if (name.startsWith("@enclave/")) {
      add(found.dir, dest, (rel) => rel === "package.json" || (rel.startsWith("dist/") && rel.endsWith(".js") && !rel.endsWith(".test.js") && !rel.includes("/testing/")));
    } else if (found.nested) {
      // Nested under its dependent, whose copy already includes it.
    } else {
      add(found.dir, dest, (rel) => !rel.startsWith("node_modules/.bin") && !rel.endsWith(".md") && !rel.endsWith(".map") && !rel.endsWith(".d.ts"));
    }
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, found.dir);
  };
  visit("@enclave/sim", modules);
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Node's lookup: `from/node_modules/name`, then the workspace's root node_modules. */
function resolvePackage(name: string, from: string, modules: string): { dir: string; nested: boolean } | undefined {
  const nested = join(from, "node_modules", name);
  if (from !== modules && existsSync(join(nested, "package.json"))) return { dir: nested, nested: true };
  const top = join(modules, name);
  if (existsSync(join(top, "package.json"))) return { dir: realpathSync(top), nested: false };
  return undefined;
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

