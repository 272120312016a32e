import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PassThrough } from "node:stream";
import { apiErrorText, isPortConflict } from "./api-errors.js";
import { dieEvent } from "./container-events.js";
import { imageRegistry, missingImageMessage, pullFailure } from "./image-source.js";
import { readJsonLines } from "./json-lines.js";
import { demuxDockerLogs } from "./log-stream.js";

const frame = (stream: number, text: string) => {
  const payload = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
};

describe("Docker API protocol pieces", () => {
  test("multiplexed logs: stdout and stderr frames in order; raw TTY output as it is", () => {
    assert.equal(demuxDockerLogs(Buffer.concat([frame(1, "loading\n"), frame(2, "CUDA error: out of memory\n"), frame(1, "bye\n")])), "loading\nCUDA error: out of memory\nbye\n");
    assert.equal(demuxDockerLogs(Buffer.from("plain tty output\n")), "plain tty output\n");
    assert.equal(demuxDockerLogs(Buffer.alloc(0)), "");
    const cut = Buffer.concat([frame(1, "whole\n"), frame(2, "cut short")]).subarray(0, -3);
    assert.equal(demuxDockerLogs(cut), "whole\ncut sh", "a truncated last frame keeps what there is");
  });

  test("die events, as Docker and podman send them; other events are not", () => {
    const podman = { status: "die", id: "abc", Type: "container", Action: "die", Actor: { ID: "abc", Attributes: { containerExitCode: "137", exitCode: "137", "enclave.node": "n1" } } };
    assert.deepEqual(dieEvent(podman), { id: "abc", exitCode: 137 });
    assert.deepEqual(dieEvent({ status: "die", id: "def" }), { id: "def", exitCode: undefined }, "old API shape");
    for (const other of [{ ...podman, Action: "start", status: "start" }, { ...podman, Type: "image" }, null, "die", { Action: "die" }]) assert.equal(dieEvent(other), undefined);
  });

  test("a pull failure hides in a 200 progress stream", async () => {
    const s = new PassThrough();
    const failures: string[] = [];
    const done = readJsonLines(s, (e) => {
      const f = pullFailure(e);
      if (f) failures.push(f);
    });
    s.write('{"status":"Pulling from vllm/vllm-openai","id":"v0.9.2"}\n{"status":"Downloading","progressDetail":{"current":1');
    s.write('},"id":"a1"}\nnot json\n');
    s.end('{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}');
    await done;
    assert.deepEqual(failures, ["manifest unknown"]);
    assert.equal(pullFailure({ error: "only error" }), "only error");
    assert.equal(pullFailure({ status: "Status: Downloaded newer image" }), undefined);
  });

  test("which registry an image names; what to do when it is missing", () => {
    assert.equal(imageRegistry("registry.internal:5000/vllm/vllm-openai:v1"), "registry.internal:5000");
    assert.equal(imageRegistry("localhost/enclave-sim:1"), "localhost");
    assert.equal(imageRegistry("vllm/vllm-openai:v1"), undefined, "Docker Hub");
    assert.equal(imageRegistry("busybox"), undefined);
    assert.match(missingImageMessage("vllm/vllm-openai:v1", "gpu-1", undefined), /^image vllm\/vllm-openai:v1 is not present on node gpu-1; load it with `docker load/);
    assert.match(missingImageMessage("vllm/vllm-openai:v1", "gpu-1", "reg:5000"), /not under the configured registry reg:5000/);
  });

  test("API errors say the status and the daemon's message; port conflicts are recognised", () => {
    const e = Object.assign(new Error("(HTTP code 500) server error"), { statusCode: 500, json: { message: "driver failed programming external connectivity: Bind for 0.0.0.0:20001 failed: port is already allocated" } });
    assert.equal(apiErrorText(e), "HTTP 500: driver failed programming external connectivity: Bind for 0.0.0.0:20001 failed: port is already allocated");
    assert.ok(isPortConflict(e));
    assert.ok(isPortConflict({ statusCode: 500, json: { message: "rootlessport listen tcp 0.0.0.0:20001: bind: address already in use" } }));
    assert.equal(isPortConflict({ statusCode: 404, json: { message: "no such image" } }), false);
    assert.equal(apiErrorText(Object.assign(new Error("connect ENOENT /var/run/docker.sock"), { code: "ENOENT" })), "ENOENT connect ENOENT /var/run/docker.sock");
  });
});
