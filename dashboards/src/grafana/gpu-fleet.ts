import { DashboardBuilder, RowBuilder, type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { datasourceVariable, labelVariable, matchers, q, states, stateTimeline, stat, timeseries } from "./panels.js";

/** GPU series: the agent exports them under DCGM exporter names, with `region` and `node` added. */
const GPU = matchers("region", "node", "gpu");
/** BMC series (IPMI exporter names) are per node. */
const BMC = matchers("region", "node");
const PER_GPU = "{{node}} GPU {{gpu}}";

/** NVML's clock event reason bits in DCGM_FI_DEV_CLOCKS_EVENT_REASONS; PromQL has no bitwise AND, so a bit is floor(mask / bit) % 2. */
const throttled = (bits: string) => `sum(${bits.replaceAll("X", `DCGM_FI_DEV_CLOCKS_EVENT_REASONS{${GPU}}`)})`;

const HEALTH = states([
  [0, "healthy", "green"],
  [1, "degraded", "orange"],
  [2, "failed", "red"],
  [3, "unknown", "purple"],
]);
/** enclave_*_health_state has one series per state (1 for the current one): weighting them gives one number per GPU. */
const healthCode = (metric: string, by: string, sel: string) =>
  ["degraded", "failed", "unknown"].map((s, i) => `${i + 1} * max by (${by}) (${metric}{${sel}, state="${s}"})`).join(" + ");

export function gpuFleetDashboard(): Dashboard {
  return new DashboardBuilder("Enclave / GPU fleet hardware")
    .uid("enclave-gpu-fleet")
    .description("Per region, node and GPU: thermals, power, memory, ECC, row remapping, Xid and throttling from the node-agents (DCGM exporter names), and the nodes' BMC sensors (IPMI exporter names).")
    .tags(["enclave", "gpu", "hardware"])
    .refresh("30s")
    .time({ from: "now-6h", to: "now" })
    .withVariable(datasourceVariable())
    .withVariable(labelVariable("region", "label_values(DCGM_FI_DEV_GPU_TEMP, region)"))
    .withVariable(labelVariable("node", 'label_values(DCGM_FI_DEV_GPU_TEMP{region=~"$region"}, node)'))
    .withVariable(labelVariable("gpu", 'label_values(DCGM_FI_DEV_GPU_TEMP{region=~"$region", node=~"$node"}, gpu)', "GPU"))

    .withRow(new RowBuilder("Health"))
    .withPanel(
      stateTimeline(
        "GPU health",
        { description: "The agent's verdict per GPU (docs/operations.md: hardware health). Failed GPUs get no new replicas and lose theirs; degraded is a warning for a maintenance window.", mappings: HEALTH, span: 16 },
        q(healthCode("enclave_gpu_health_state", "node, gpu", GPU), PER_GPU),
      ),
    )
    .withPanel(
      stat("GPUs by health state", { description: "How many of the selected GPUs are in each state.", span: 8, height: 8 }, q(`sum by (state) (enclave_gpu_health_state{${GPU}})`, "{{state}}")),
    )
    .withPanel(
      stateTimeline(
        "Node health",
        { description: "The node's verdict: its GPUs and its BMC (PSU, fans, inlet temperature, event log).", mappings: HEALTH, span: 24, height: 6 },
        q(healthCode("enclave_node_health_state", "node", BMC), "{{node}}"),
      ),
    )

    .withRow(new RowBuilder("Thermals and power"))
    .withPanel(
      timeseries(
        "GPU temperature against its slowdown threshold",
        { description: "Die temperature and the temperature at which the driver starts slowing the GPU down. Within 5 °C of it the GPU is degraded (alert EnclaveGpuTemperatureNearSlowdown).", unit: "celsius" },
        q(`max by (node, gpu) (DCGM_FI_DEV_GPU_TEMP{${GPU}})`, PER_GPU),
        q(`max by (node, gpu) (DCGM_FI_DEV_SLOWDOWN_TEMP{${GPU}})`, `${PER_GPU} slowdown`),
      ),
    )
    .withPanel(
      timeseries("GPU memory temperature", { description: "HBM temperature.", unit: "celsius" }, q(`max by (node, gpu) (DCGM_FI_DEV_MEMORY_TEMP{${GPU}})`, PER_GPU)),
    )
    .withPanel(
      timeseries(
        "Power against its limit",
        { description: "Board power draw and the power management limit.", unit: "watt" },
        q(`max by (node, gpu) (DCGM_FI_DEV_POWER_USAGE{${GPU}})`, PER_GPU),
        q(`max by (node, gpu) (DCGM_FI_DEV_POWER_MGMT_LIMIT{${GPU}})`, `${PER_GPU} limit`),
      ),
    )
    .withPanel(
      timeseries(
        "GPUs throttled, by reason",
        { description: "Selected GPUs with each clock event (throttle) reason active: thermal (SW 0x20, HW 0x40), HW power brake (0x80), SW power cap (0x4), HW slowdown (0x8). Thermal and power brake degrade a GPU.", min: 0 },
        q(throttled("(floor(X / 32) % 4 > bool 0)"), "thermal"),
        q(throttled("(floor(X / 128) % 2)"), "power brake"),
        q(throttled("(floor(X / 4) % 2)"), "power cap"),
        q(throttled("(floor(X / 8) % 2)"), "hardware slowdown"),
      ),
    )
    .withPanel(timeseries("SM clock", { description: "SM clock frequency; far below the maximum while busy means throttling.", unit: "MHz" }, q(`max by (node, gpu) (DCGM_FI_DEV_SM_CLOCK{${GPU}})`, PER_GPU)))
    .withPanel(timeseries("GPU utilisation", { description: "Share of time a kernel was running.", unit: "percent", min: 0, max: 100 }, q(`max by (node, gpu) (DCGM_FI_DEV_GPU_UTIL{${GPU}})`, PER_GPU)))

    .withRow(new RowBuilder("Memory"))
    .withPanel(
      timeseries(
        "VRAM used and total",
        { description: "Framebuffer memory in use (engines hold most of it from start) and the GPU's total.", unit: "decmbytes", min: 0 },
        q(`max by (node, gpu) (DCGM_FI_DEV_FB_USED{${GPU}})`, `${PER_GPU} used`),
        q(`max by (node, gpu) (DCGM_FI_DEV_FB_USED{${GPU}} + DCGM_FI_DEV_FB_FREE{${GPU}})`, `${PER_GPU} total`),
      ),
    )
    .withPanel(
      timeseries(
        "ECC errors per second",
        { description: "Volatile (since the last reset) corrected and uncorrected ECC errors. Any uncorrected error fails the GPU (alert EnclaveGpuEccUncorrectable); a rising corrected rate degrades it.", unit: "short", min: 0 },
        q(`sum by (node, gpu) (rate(DCGM_FI_DEV_ECC_SBE_VOL_TOTAL{${GPU}}[$__rate_interval]))`, `${PER_GPU} corrected`),
        q(`sum by (node, gpu) (rate(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{${GPU}}[$__rate_interval]))`, `${PER_GPU} uncorrected`),
      ),
    )
    .withPanel(
      timeseries(
        "Memory taken out of service: retired pages or remapped rows",
        {
          description: "Pre-Ampere GPUs retire pages, Ampere and later remap rows: each query takes whichever the GPU reports. Pending means it applies at the next GPU reset (alert EnclaveGpuRowRemapPending); a failed remap means no spare rows are left (alert EnclaveGpuRowRemapFailure).",
          min: 0,
        },
        q(`max by (node, gpu) ((DCGM_FI_DEV_RETIRED_SBE{${GPU}} + DCGM_FI_DEV_RETIRED_DBE{${GPU}}) or (DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS{${GPU}} + DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS{${GPU}}))`, `${PER_GPU} retired/remapped`),
        q(`max by (node, gpu) (DCGM_FI_DEV_RETIRED_PENDING{${GPU}} or DCGM_FI_DEV_ROW_REMAP_PENDING{${GPU}})`, `${PER_GPU} pending`),
        q(`max by (node, gpu) (DCGM_FI_DEV_ROW_REMAP_FAILURE{${GPU}})`, `${PER_GPU} remap failed`),
      ),
    )
    .withPanel(
      timeseries(
        "Last Xid error",
        { description: "Code of the GPU's last Xid error in the agent's window (0: none). Critical codes fail the GPU (alert EnclaveGpuCriticalXid); see NVIDIA's Xid catalogue.", min: 0 },
        q(`max by (node, gpu) (DCGM_FI_DEV_XID_ERRORS{${GPU}})`, PER_GPU),
      ),
    )

    .withRow(new RowBuilder("BMC"))
    .withPanel(
      timeseries(
        "Inlet and exhaust temperature",
        { description: "The BMC's inlet (ambient) and exhaust sensors; an inlet past the BMC's threshold raises EnclaveBmcInletTemperature.", unit: "celsius" },
        q(`max by (node, name) (ipmi_temperature_celsius{${BMC}, name=~"(?i).*(inlet|ambient).*"})`, "{{node}} {{name}}"),
        q(`max by (node, name) (ipmi_temperature_celsius{${BMC}, name=~"(?i).*exhaust.*"})`, "{{node}} {{name}}"),
      ),
    )
    .withPanel(timeseries("Fans", { description: "Fan speeds; a fan in critical state raises EnclaveBmcFanFailure.", unit: "rotrpm", min: 0 }, q(`max by (node, name) (ipmi_fan_speed_rpm{${BMC}})`, "{{node}} {{name}}")))
    .withPanel(
      stateTimeline(
        "PSU state",
        { description: "Power supply sensors as the BMC reports them; critical (a lost or failed PSU) raises EnclaveBmcPsuFailure.", mappings: states([[0, "ok", "green"], [1, "warning", "orange"], [2, "critical", "red"]]) },
        q(`max by (node, name) (ipmi_sensor_state{${BMC}, type="Power Supply"})`, "{{node}} {{name}}"),
      ),
    )
    .withPanel(timeseries("Node power (BMC)", { description: "Whole-server power draw as the BMC measures it.", unit: "watt", min: 0 }, q(`max by (node, name) (ipmi_power_watts{${BMC}})`, "{{node}} {{name}}")))
    .build();
}
