export { ALERTS, RULE_GROUPS, type AlertRule, type RuleGroup, type Severity } from "./alerts/rules.js";
export { ruleFileYaml } from "./alerts/rule-file.js";
export { DASHBOARDS, dashboardJson } from "./grafana/index.js";
export { panelQueries, variableQueries, parseLabelValues, substitute, type PanelQuery, type VariableQuery } from "./grafana/queries.js";
export { JOBS, prometheusConfig, prometheusConfigYaml, type ScrapeTargets } from "./prometheus/scrape-config.js";
export { PACKAGE_DIR, RULE_FILE, RULE_TESTS, generatedFiles } from "./generated-files.js";
