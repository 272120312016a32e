import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** node-agent/fixtures, from dist/test-support or src/test-support alike. */
export const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), "../../fixtures");

export function fixture(...parts: string[]): string {
  return readFileSync(join(FIXTURES, ...parts), "utf8");
}

/** `silent-loop`: loop mode prints its header and then nothing, like a tool holding piped output back; single calls answer. */
export type FakeMode = "normal" | "hang" | "driver-failure" | "garbage" | "silent-loop";

/**
 * A stand-in for nvidia-smi: a small sh script that answers `--query-gpu=a,b,c --format=csv`
 * by projecting those columns out of a real captured full-field CSV (a field the capture's
 * driver does not have gets the real driver's rejection: `Field "x" is not a valid field to
 * query.`, exit 2), and `-q -x` with a captured XML. Its behaviour can be switched between
 * calls: hang, fail like a driver that is not loaded, print garbage, reject chosen fields.
 */
export class FakeNvidiaSmi {
  readonly dir: string;
  readonly path: string;

  constructor(opts: { csv: string; xml: string }) {
    this.dir = mkdtempSync(join(tmpdir(), "enclave-fake-smi-"));
    this.path = join(this.dir, "nvidia-smi");
    writeFileSync(this.path, SCRIPT);
    chmodSync(this.path, 0o755);
    this.setCsv(opts.csv);
    this.setXml(opts.xml);
    this.setMode("normal");
    this.reject([]);
  }

  setCsv(text: string): void {
    writeFileSync(join(this.dir, "query.csv"), text);
  }

  setXml(text: string): void {
    writeFileSync(join(this.dir, "detail.xml"), text);
  }

  setMode(mode: FakeMode): void {
    writeFileSync(join(this.dir, "mode"), `${mode}\n`);
  }

  /** Fields this "driver" rejects on top of those its capture lacks. */
  reject(fields: readonly string[]): void {
    writeFileSync(join(this.dir, "reject"), fields.map((f) => `${f}\n`).join(""));
  }

  /** The PID of the last call that hung, to check it was killed. */
  hungPid(): number | undefined {
    try {
      return Number(readFileSync(join(this.dir, "hang.pid"), "utf8").trim());
    } catch {
      return undefined;
    }
  }

  /** The PID of the last loop-mode call. */
  loopPid(): number | undefined {
    try {
      return Number(readFileSync(join(this.dir, "loop.pid"), "utf8").trim());
    } catch {
      return undefined;
    }
  }

  /** The argument lists of every call so far. */
  calls(): string[] {
    try {
      return readFileSync(join(this.dir, "calls.log"), "utf8").split("\n").filter((l) => l !== "");
    } catch {
      return [];
    }
  }

  clearCalls(): void {
    writeFileSync(join(this.dir, "calls.log"), "");
  }

  /** How many rounds of rows loop-mode calls (`-lms`) have printed so far. */
  loopRounds(): number {
    try {
      return readFileSync(join(this.dir, "rounds.log"), "utf8").split("\n").filter((l) => l !== "").length;
    } catch {
      return 0;
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A real capture with some cells changed, for failure states no public capture shows
 * (documented in fixtures/README.md): `overrides` sets fields by header name, in every row.
 */
export function deriveCsv(csv: string, overrides: Readonly<Record<string, string>>): string {
  const [header = "", ...rows] = csv.split("\n").filter((l) => l.trim() !== "");
  const names = header.split(",").map((h) => h.trim().replace(/\s*\[[^\]]*\]$/, ""));
  for (const f of Object.keys(overrides)) if (!names.includes(f)) throw new Error(`no field ${f} in the capture`);
  const out = rows.map((row) => {
    const cells = row.split(",").map((c) => c.trim());
    names.forEach((n, i) => {
      const v = overrides[n];
      if (v !== undefined) cells[i] = v;
    });
    return cells.join(", ");
  });
  return [header, ...out].join("\n") + "\n";
}

/**
 * A capture of one GPU as `count` GPUs: index, UUID and PCI bus id made distinct, the
 * rest as captured. Used where a test or benchmark needs a multi-GPU node and the public
 * captures have single-GPU machines.
 */
export function replicateCsv(csv: string, count: number): string {
  const [header = "", row = ""] = csv.split("\n").filter((l) => l.trim() !== "");
  const names = header.split(",").map((h) => h.trim().replace(/\s*\[[^\]]*\]$/, ""));
  const cells = row.split(",").map((c) => c.trim());
  const at = (n: string) => names.indexOf(n);
  const rows = Array.from({ length: count }, (_, i) => {
    const c = [...cells];
    if (at("index") >= 0) c[at("index")] = String(i);
    if (at("uuid") >= 0) c[at("uuid")] = `GPU-00000000-0000-0000-0000-${String(i).padStart(12, "0")}`;
    if (at("pci.bus_id") >= 0) c[at("pci.bus_id")] = `00000000:${(0x18 + i * 0x10).toString(16).toUpperCase().padStart(2, "0")}:00.0`;
    return c.join(", ");
  });
  return [header, ...rows].join("\n") + "\n";
}

/** A real XML capture made to describe another GPU (the one a CSV capture shows), so the two reads merge as one machine's. */
export function retargetXml(xml: string, gpu: { uuid: string; pciBusId: string }): string {
  return xml
    .replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${gpu.uuid}</uuid>`)
    .replace(/<gpu id="[^"]*">/, `<gpu id="${gpu.pciBusId}">`)
    .replace(/<pci_bus_id>[^<]*<\/pci_bus_id>/, `<pci_bus_id>${gpu.pciBusId}</pci_bus_id>`);
}

/** Appends a kernel log record (the /dev/kmsg format) to a file a KernelLogReader follows. */
export function appendKmsg(file: string, seq: number, microsSinceBoot: number, message: string): void {
  appendFileSync(file, `3,${seq},${microsSinceBoot},-;${message}\n`);
}

const SCRIPT = `#!/bin/sh
# Fake nvidia-smi for tests (see fake-nvidia-smi.ts). Answers from files next to it.
d=$(dirname "$0")
echo "$*" >> "$d/calls.log"
# What the current mode makes of this call (or, in loop mode, of this round).
act() {
  case "$(cat "$d/mode" 2>/dev/null)" in
    hang) echo $$ > "$d/hang.pid"; exec sleep 600 ;;
    driver-failure)
      echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
      exit 9 ;;
    garbage) printf '\\033[1;31m*** segfault in libnvidia-ml\\n\\0\\001\\377 ,,,, [[[\\n'; [ -n "$loop" ] && return 1; exit 0 ;;
    silent-loop) [ -n "$loop" ] && return 1 ;;
  esac
  return 0
}
q=""; loop=""; prev=""
for a in "$@"; do
  case "$a" in
    --query-gpu=*) q="\${a#--query-gpu=}" ;;
    --loop-ms=*) loop="\${a#--loop-ms=}" ;;
  esac
  [ "$prev" = "-lms" ] && loop="$a"
  prev="$a"
done
[ -n "$loop" ] || act
case " $* " in *" -x "*) cat "$d/detail.xml"; exit 0 ;; esac
[ -n "$q" ] || { echo "fake nvidia-smi: only --query-gpu and -q -x" >&2; exit 2; }
# part: all (one call), header or rows (a loop prints the header once, then rows each round).
project() {
  awk -v q="$q" -v part="$1" -v rejectfile="$d/reject" '
  BEGIN {
    FS = ", "
    while ((getline line < rejectfile) > 0) if (line != "") rejected[line] = 1
    n = split(q, want, ",")
  }
  NR == 1 {
    for (i = 1; i <= NF; i++) { name = $i; sub(/ \\[.*\\]$/, "", name); col[name] = i; head[name] = $i }
    for (j = 1; j <= n; j++) if (!(want[j] in col) || (want[j] in rejected)) {
      printf "Field \\"%s\\" is not a valid field to query.\\n\\n", want[j]; bad = 1; exit 2
    }
    if (part != "rows") { for (j = 1; j <= n; j++) printf "%s%s", (j > 1 ? ", " : ""), head[want[j]]; printf "\\n" }
    if (part == "header") exit 0
    next
  }
  NF > 0 { for (j = 1; j <= n; j++) printf "%s%s", (j > 1 ? ", " : ""), $(col[want[j]]); printf "\\n" }
  END { if (bad) exit 2 }
  ' "$d/query.csv"
}
[ -n "$loop" ] || { project all; exit $?; }
project header || exit 2
echo $$ > "$d/loop.pid"
secs=$(awk -v ms="$loop" 'BEGIN { printf "%.3f", ms / 1000 }')
while :; do
  # Gone with its reader, as nvidia-smi is: a write to a closed pipe ends awk, then the loop.
  if act; then project rows || exit 1; echo "$q" >> "$d/rounds.log"; fi
  sleep "$secs"
done
`;
