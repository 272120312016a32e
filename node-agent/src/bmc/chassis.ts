/** `System Power         : on` from `ipmitool chassis status`; null when the line is missing. */
export function parseChassisPower(text: string): boolean | null {
  const m = /^\s*System Power\s*:\s*(\w+)/m.exec(text);
  if (!m?.[1]) return null;
  return m[1].toLowerCase() === "on" ? true : m[1].toLowerCase() === "off" ? false : null;
}
