// The health evaluation lives in health/; this path stays for existing importers.
export { nodeHealth, type NodeFindings } from "../health/node-health.js";
