/**
 * An empty object for entries keyed by origin (a key's dependencies), in V8's dictionary mode
 * from the start. A plain `{}` gets a hidden class for every distinct sequence of keys added to
 * it, and a real tree's thousands of dependency lists are nearly all distinct: a fresh process
 * spent about 50 µs per port making them. (Deleting a property that is not the last one added
 * turns an object into a dictionary; it stays one as keys are added.)
 */
export function byOrigin<T>(): Record<string, T> {
  const o: Record<string, unknown> = { a: 0, b: 0 };
  delete o.a;
  delete o.b;
  return o as Record<string, T>;
}
