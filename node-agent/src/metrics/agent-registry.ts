import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * How often Node's event-loop lag is sampled. prom-client's default of 10 ms wakes the
 * event loop 100 times a second, which alone cost an idle agent ~0.7% of a core (its
 * budget is 1%). A lag worth alerting on lasts far longer than a second, and the
 * `nodejs_eventloop_lag_*` series keep their names; they are sampled once a second.
 */
const EVENT_LOOP_SAMPLE_MS = 1000;

/** runtime's `createRegistry`, with the event-loop sampling an idle agent can afford. */
export function createAgentRegistry(): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component: "agent" });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  return registry;
}
