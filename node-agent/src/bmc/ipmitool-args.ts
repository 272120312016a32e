import type { BmcConfig } from "@enclave/contracts";

/**
 * The ipmitool command line for one BMC command. The password never goes on the command
 * line (where `ps` shows it): lanplus sessions read it from IPMI_PASSWORD (`-E`).
 */
export function ipmitoolArgs(c: BmcConfig, command: readonly string[]): string[] {
  if (c.interface === "open") return ["-I", "open", ...command];
  const args = ["-I", "lanplus", "-H", c.host ?? "", "-p", String(c.port)];
  if (c.username) args.push("-U", c.username);
  args.push("-E", "-L", c.privilege, "-C", String(c.cipherSuite), "-N", String(c.retransmitTimeoutS), "-R", String(c.retries));
  return [...args, ...command];
}

/** Device nodes through which ipmitool's `open` interface reaches the local BMC. */
export const LOCAL_IPMI_DEVICES = ["/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0"] as const;
