/**
 * The one middleware runner of every layer: Engine.IO request middlewares `(req, res, next)`, Socket.IO
 * connection middlewares `(socket, next)` and packet middlewares `([event, ...args], next)`.
 *
 * The middlewares run one after another; the first error stops the chain. Each middleware settles once: a
 * second `next` call is ignored, a throw (or the rejection of the Promise an async middleware returns) counts
 * as `next(err)` unless it already settled.
 */

/** The error a middleware threw when it threw nothing usable (`throw undefined`). */
export const MIDDLEWARE_FAILURE = "middleware failure";

/**
 * Runs `fns` in order, each through `invoke(fn, next)` (which calls the middleware with its own arguments);
 * `done()` after the last one called `next()`, or `done(err)` at the first error. `E` is the error type the
 * layer's middlewares pass to `next`; a thrown value is passed on as such.
 */
export function runMiddlewares<F, E = unknown>(
  fns: readonly F[],
  invoke: (fn: F, next: (err?: E) => void) => unknown,
  done: (err?: E) => void,
): void {
  let index = 0;
  const step = (): void => {
    const fn = fns[index++];
    if (fn === undefined) {
      done();
      return;
    }
    let settled = false;
    const next = (err?: E): void => {
      if (settled) return;
      settled = true;
      if (err) done(err);
      else step();
    };
    try {
      const result = invoke(fn, next);
      if (isThenable(result)) result.then(undefined, (err: unknown) => next(failure<E>(err)));
    } catch (err) {
      next(failure<E>(err));
    }
  };
  step();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** What a throw or a rejection passes to `next`: the value thrown, or an Error when it is empty. */
function failure<E>(err: unknown): E {
  return (err ?? new Error(MIDDLEWARE_FAILURE)) as E;
}
