/**
 * The registry an image reference names (`registry.internal:5000/vllm/vllm-openai:v1`),
 * or undefined for a name Docker would look up on Docker Hub.
 */
export function imageRegistry(ref: string): string | undefined {
  const slash = ref.indexOf("/");
  if (slash < 0) return undefined;
  const first = ref.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" ? first : undefined;
}

/**
 * Why a pull failed, from its progress events. The Docker API answers a failed pull with
 * HTTP 200 and puts the failure in the stream (`errorDetail`), so a 200 is no success.
 */
export function pullFailure(event: unknown): string | undefined {
  if (typeof event !== "object" || event === null) return undefined;
  const e = event as { error?: unknown; errorDetail?: { message?: unknown } };
  if (typeof e.errorDetail?.message === "string") return e.errorDetail.message;
  if (typeof e.error === "string") return e.error;
  return undefined;
}

/** The job failure for an image that is not on the node: what is missing, where, and what to do. */
export function missingImageMessage(image: string, nodeId: string, registry: string | undefined): string {
  const pullable = registry === undefined ? "no registry is configured (engines.docker.registry)" : `it is not under the configured registry ${registry}`;
  return `image ${image} is not present on node ${nodeId}; load it with \`docker load -i FILE.tar\` (or \`podman load\`) on that node, or push it to the internal registry; ${pullable}, and the agent never pulls from the internet`;
}
