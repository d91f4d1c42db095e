/** Runs middlewares `(subject, next) => ...` one after another; the first error stops the chain. */
export function runMiddlewares<Subject, E extends Error>(
  fns: ReadonlyArray<(subject: Subject, next: (err?: E) => void) => void>,
  subject: Subject,
  done: (err?: E) => void,
): void {
  const step = (i: number): void => {
    const fn = fns[i];
    if (!fn) {
      done();
      return;
    }
    fn(subject, (err) => {
      if (err) done(err);
      else step(i + 1);
    });
  };
  step(0);
}
