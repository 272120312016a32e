import { HealthThresholds } from "@enclave/contracts";

export type Severity = "critical" | "warning";

export interface AlertRule {
  /** Also the runbook's file name: docs/runbooks/<alert>.md. */
  alert: string;
  expr: string;
  for: string;
  severity: Severity;
  summary: string;
  description: string;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** The agent's defaults, so the alerts and the agent's health verdicts agree. */
const AGENT = HealthThresholds.parse({});

/** Only the leading scheduler replica reconciles, so only its desired-state gauges are current. */
const leader = (expr: string) => `${expr} and on (instance) (enclave_scheduler_leader == 1)`;
/** Agent-wide series carry no node label: take it from the same agent's node health. */
const onNode = (expr: string) => `(${expr}) * on (instance) group_left (node, region) max by (instance, node, region) (enclave_node_health_state)`;
const GPU_AT = "GPU {{ $labels.gpu }} on {{ $labels.node }} ({{ $labels.region }})";

export const RULE_GROUPS: readonly RuleGroup[] = [
  {
    name: "enclave-gpu",
    rules: [
      {
        alert: "EnclaveGpuEccUncorrectable",
        expr: "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL > 0",
        for: "0m",
        severity: "critical",
        summary: `${GPU_AT} has uncorrectable ECC errors`,
        description: "{{ $value }} volatile uncorrectable (double-bit) ECC error(s) since the GPU's last reset. The agent reports the GPU failed: the scheduler moves its replicas away. It needs a reset (pending row remaps apply then), and an RMA if it recurs.",
      },
      {
        alert: "EnclaveGpuRowRemapFailure",
        expr: "DCGM_FI_DEV_ROW_REMAP_FAILURE == 1",
        for: "0m",
        severity: "critical",
        summary: `Row remapping failed on ${GPU_AT}`,
        description: "The GPU has no spare memory rows left to remap a failing one. The GPU is failed and needs replacing (RMA).",
      },
      {
        alert: "EnclaveGpuRowRemapPending",
        expr: "DCGM_FI_DEV_ROW_REMAP_PENDING == 1 or DCGM_FI_DEV_RETIRED_PENDING > 0",
        for: "5m",
        severity: "warning",
        summary: `${GPU_AT} has a row remap or page retirement pending`,
        description: "A memory row (Ampere and later) or page (older GPUs) is marked for remapping or retirement, which applies at the next GPU reset. The GPU is degraded: drain the node and reset the GPU in a maintenance window.",
      },
      {
        alert: "EnclaveGpuTemperatureNearSlowdown",
        expr: `DCGM_FI_DEV_GPU_TEMP >= DCGM_FI_DEV_SLOWDOWN_TEMP - ${AGENT.temperatureMarginC} or (DCGM_FI_DEV_GPU_TEMP >= 85 unless DCGM_FI_DEV_SLOWDOWN_TEMP)`,
        for: "5m",
        severity: "warning",
        summary: `${GPU_AT} is at {{ $value }} °C, near its slowdown temperature`,
        description: `Within ${AGENT.temperatureMarginC} °C of the temperature at which the driver slows the GPU down (85 °C where the driver does not report it). The GPU is degraded; it will soon throttle.`,
      },
      {
        alert: "EnclaveGpuThermalThrottling",
        // Bits 0x20 (SW thermal slowdown) and 0x40 (HW thermal slowdown) of NVML's clock event reasons.
        expr: "floor(DCGM_FI_DEV_CLOCKS_EVENT_REASONS / 32) % 4 > 0",
        for: "5m",
        severity: "warning",
        summary: `${GPU_AT} is throttled for temperature`,
        description: "The driver has slowed the GPU's clocks to cool it (SW or HW thermal slowdown). Throughput on it drops; the GPU is degraded.",
      },
      {
        alert: "EnclaveGpuPowerBrake",
        // Bit 0x80 (HW power brake slowdown): the board's power-brake input, asserted by the system (PSU, BMC).
        expr: "floor(DCGM_FI_DEV_CLOCKS_EVENT_REASONS / 128) % 2 == 1",
        for: "1m",
        severity: "warning",
        summary: `${GPU_AT} is held by the hardware power brake`,
        description: "The system asserted the GPU's power-brake signal (usually a PSU or chassis power problem): clocks are cut hard. The GPU is degraded.",
      },
      {
        alert: "EnclaveGpuCriticalXid",
        expr: AGENT.criticalXids.map((x) => `DCGM_FI_DEV_XID_ERRORS == ${x}`).join(" or "),
        for: "0m",
        severity: "critical",
        summary: `${GPU_AT} reported critical Xid {{ $value }}`,
        description: `The GPU's last Xid error is one the agent treats as fatal (health.criticalXids: ${AGENT.criticalXids.join(", ")}). The GPU is failed until reset.`,
      },
      {
        alert: "EnclaveGpuHealthUnknown",
        expr: '(enclave_gpu_health_state{state="unknown"} == 1) or (enclave_node_health_state{state="unknown"} == 1)',
        for: "5m",
        severity: "warning",
        summary: "GPU health unknown on {{ $labels.node }} ({{ $labels.region }}){{ if $labels.gpu }}, GPU {{ $labels.gpu }}{{ end }}",
        description: "The agent cannot read the GPU (nvidia-smi missing, hung, failing, or the GPU fell off the bus). The scheduler places nothing on unknown GPUs and moves replicas off them.",
      },
    ],
  },
  {
    name: "enclave-bmc",
    rules: [
      {
        alert: "EnclaveBmcPsuFailure",
        expr: 'ipmi_sensor_state{type="Power Supply"} == 2',
        for: "1m",
        severity: "critical",
        summary: "{{ $labels.name }} failed on {{ $labels.node }} ({{ $labels.region }})",
        description: "The BMC reports a power supply in critical state (lost, failed or removed). The node runs without redundancy; the node is degraded.",
      },
      {
        alert: "EnclaveBmcFanFailure",
        expr: "ipmi_fan_speed_state == 2",
        for: "1m",
        severity: "critical",
        summary: "{{ $labels.name }} failed on {{ $labels.node }} ({{ $labels.region }})",
        description: "The BMC reports a fan past its critical threshold (stopped or far too slow). GPUs will heat up and throttle; the node is degraded.",
      },
      {
        alert: "EnclaveBmcInletTemperature",
        expr: 'ipmi_temperature_state{name=~"(?i).*(inlet|ambient).*"} >= 1',
        for: "5m",
        severity: "warning",
        summary: "Inlet temperature on {{ $labels.node }} ({{ $labels.region }}) is past the BMC's threshold",
        description: "Air entering the server ({{ $labels.name }}) is warmer than the BMC's warning (1) or critical (2) threshold: state {{ $value }}. Usually a room or rack cooling problem, affecting neighbours too.",
      },
    ],
  },
  {
    name: "enclave-fleet",
    rules: [
      {
        alert: "EnclaveNodeHeartbeatLost",
        // A node the scheduler saw in the last hour that is not live now; not while no scheduler is scraped (EnclaveProcessDown covers that).
        expr:
          "(max by (node, region) (max_over_time(enclave_scheduler_node_heartbeat_age_seconds[1h])) unless max by (node, region) (enclave_scheduler_node_heartbeat_age_seconds)) and on () (count(enclave_scheduler_leader) > 0)",
        for: "1m",
        severity: "critical",
        summary: "Node {{ $labels.node }} ({{ $labels.region }}) stopped heartbeating",
        description: "The scheduler has had no heartbeat from the node for longer than its nodeTtlMs: the node is gone from placement and its replicas are being placed again in the same region.",
      },
      {
        alert: "EnclaveEngineCrashLoop",
        expr: onNode('increase(enclave_agent_engine_restarts_total[15m]) > 2 or enclave_agent_backends{state="failed"} > 0'),
        for: "1m",
        severity: "warning",
        summary: "Engines keep crashing on {{ $labels.node }} ({{ $labels.region }})",
        description: "More than 2 engine restarts in 15 minutes, or an engine the agent gave up on after engines.restart.maxRestarts (state failed).",
      },
      {
        alert: "EnclaveDeploymentDegraded",
        expr: `sum by (deployment, region) (${leader('enclave_scheduler_replicas{state!="ready"}')}) > 0`,
        for: "10m",
        severity: "warning",
        summary: "Deployment {{ $labels.deployment }} is degraded in {{ $labels.region }}",
        description: "{{ $value }} desired replica(s) in the region are not ready (pending or unplaced). Enclave never places them in another region.",
      },
      {
        alert: "EnclaveRegionNPlusOneLost",
        expr: `max by (region) (${leader("enclave_scheduler_capacity_n_plus_one")}) == 0`,
        for: "15m",
        severity: "warning",
        summary: "{{ $labels.region }} would not survive losing its largest node",
        description: "If the region's largest node failed, some of its replicas could not be placed again in the region.",
      },
      {
        alert: "EnclaveProcessDown",
        expr: 'up{job=~"enclave-(gateway|scheduler|agent)"} == 0',
        for: "2m",
        severity: "critical",
        summary: "{{ $labels.job }} at {{ $labels.instance }} cannot be scraped",
        description: "Prometheus cannot reach the process's /metrics: it is down, or the network between the logging segment and it is. Every other alert about it is blind meanwhile.",
      },
    ],
  },
  {
    name: "enclave-gateway",
    rules: [
      {
        alert: "EnclaveNoCompliantBackend",
        expr: "sum by (reason) (rate(enclave_gateway_no_compliant_backend_total[5m])) > 0.05",
        for: "5m",
        severity: "warning",
        summary: "Requests fail closed with no_compliant_backend ({{ $labels.reason }})",
        description: "{{ printf \"%.2f\" $value }} requests per second get 503 no_compliant_backend: no backend in the tenant's allowed regions can serve. Enclave never serves them elsewhere; capacity is missing where they are allowed.",
      },
      {
        alert: "EnclaveAuditBacklogGrowing",
        expr: "enclave_audit_backlog_age_seconds > 300 and delta(enclave_audit_backlog_records[10m]) > 0",
        for: "5m",
        severity: "warning",
        summary: "Audit records for {{ $labels.region }} are piling up on {{ $labels.instance }}",
        description: "The oldest record not acknowledged by the region's sink is {{ $value | humanizeDuration }} old and the backlog keeps growing. Nothing is lost, but the spool fills towards its budget.",
      },
      {
        alert: "EnclaveAuditSinkDown",
        expr: "enclave_audit_sink_up == 0",
        for: "5m",
        severity: "warning",
        summary: "The audit sink for {{ $labels.region }} refuses {{ $labels.instance }}'s deliveries",
        description: "Deliveries to the region's sink keep failing. Records wait in the spool and are shipped once it is back.",
      },
      {
        alert: "EnclaveAuditSpoolNearBudget",
        expr: "enclave_audit_spool_bytes / enclave_audit_spool_budget_bytes > 0.8 or enclave_audit_spool_budget_exhausted == 1",
        for: "1m",
        severity: "critical",
        summary: "The audit spool of {{ $labels.instance }} is near its budget",
        description: "The spool holds more than 80% of audit.spool.budgetBytes, or is full. When full, the gateway refuses new requests with 503 audit_unavailable (fail-closed).",
      },
    ],
  },
];

export const ALERTS: readonly AlertRule[] = RULE_GROUPS.flatMap((g) => g.rules);
