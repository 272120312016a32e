import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentConfig, ConfigError, parseConfigText } from "../index.js";

const base = `nodeId: n1
region: eu-central-1
jurisdiction: EU
scheduler: { url: "http://127.0.0.1:1", token: { env: NODE_TOKEN } }
gpus: { source: sim }
`;

test("the process driver hands out engine ports from the firewall's range by default, like the Docker driver", () => {
  const c = parseConfigText(AgentConfig, `${base}engines: { driver: process }\n`, "agent.yaml");
  assert.deepEqual(c.engines.process.portRange, { from: 20000, to: 20999 });
  assert.deepEqual(c.engines.process.portRange, c.engines.docker.portRange);
  const narrow = parseConfigText(AgentConfig, `${base}engines: { driver: process, process: { portRange: { from: 21000, to: 21009 } } }\n`, "agent.yaml");
  assert.deepEqual(narrow.engines.process.portRange, { from: 21000, to: 21009 });
  try {
    parseConfigText(AgentConfig, `${base}engines: { driver: process, process: { portRange: { from: 21009, to: 21000 } } }\n`, "agent.yaml");
    assert.fail("an inverted range is refused");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.problems.map((p) => [p.path, p.message]), [["engines.process.portRange", "portRange.from must not be above portRange.to"]]);
  }
});
