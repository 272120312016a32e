/** MULTI replies carry one error per command; any failed command fails the whole call. */
export function failOnError(res: [Error | null, unknown][] | null): unknown[] {
  if (res === null) throw new Error("redis transaction aborted");
  return res.map(([err, v]) => {
    if (err) throw err;
    return v;
  });
}
