// Image references as people type them.

/** "repo:tag" into its parts; the colon of a registry's port is not a tag's. */
export function splitRef(reference: string): [string, string | undefined] {
  const colon = reference.lastIndexOf(":");
  if (colon <= reference.lastIndexOf("/")) return [reference, undefined];
  return [reference.slice(0, colon), reference.slice(colon + 1)];
}
