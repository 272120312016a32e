export * from "./log.js";
export * from "./secrets.js";
export * from "./observability.js";
export * from "./time.js";
export * from "./net.js";
export * from "./shutdown.js";
export * from "./redis-server.js";
export * from "./hot-metrics.js";
