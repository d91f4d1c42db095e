/** The lists of catch-all listeners (`onAny`, `onAnyOutgoing`, ...): made on first use, dropped when empty. */

export type AnyListener = (...args: unknown[]) => void;

/** `list` with `listener` added (first when `prepend`). */
export function addAnyListener(
  list: AnyListener[] | undefined,
  listener: AnyListener,
  prepend: boolean,
): AnyListener[] {
  const target = list ?? [];
  if (prepend) target.unshift(listener);
  else target.push(listener);
  return target;
}

/** `list` without `listener` (every listener when none is given); undefined once empty. */
export function removeAnyListener(
  list: AnyListener[] | undefined,
  listener?: AnyListener,
): AnyListener[] | undefined {
  if (!list || !listener) return undefined;
  const index = list.indexOf(listener);
  if (index !== -1) list.splice(index, 1);
  return list.length > 0 ? list : undefined;
}
