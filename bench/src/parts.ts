import { agentBench } from "./agent.js";
import { auditBench } from "./audit.js";
import { gatewayBench } from "./gateway.js";
import { gatewayClientBench } from "./gateway-client.js";
import type { BenchPart } from "./part.js";
import { schedulerBench } from "./scheduler.js";

/** Every benchmark part, in the order `npm run bench` runs them. Add a part here. */
export const PARTS: BenchPart[] = [gatewayBench, gatewayClientBench, agentBench, schedulerBench, auditBench];
