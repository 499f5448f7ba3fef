/** Where a command writes: stdout and stderr, swappable in tests, and how wide its tables may be. */
export interface Io {
  out(line: string): void;
  /** Writes these bytes (or parts, in order) to stdout as they are (a large document already encoded); absent: out() is used. */
  outBytes?(bytes: JsonBytes): void;
  err(line: string): void;
  /** The width tables must fit in (see terminalColumns); undefined: no limit. */
  readonly columns?: number | undefined;
}

/** $COLUMNS when set to a number, else the terminal's width; undefined when stdout is no terminal. */
export function terminalColumns(env: NodeJS.ProcessEnv = process.env, stdout: NodeJS.WriteStream = process.stdout): number | undefined {
  const n = Number(env.COLUMNS);
  if (Number.isInteger(n) && n > 0) return n;
  return stdout.isTTY ? stdout.columns : undefined;
}

/** A JSON document as UTF-8: one buffer, or its parts in order. */
export type JsonBytes = Uint8Array | readonly Uint8Array[];

/** The bytes of a document given in parts, as one buffer. */
export const joinedBytes = (bytes: JsonBytes): Uint8Array => (bytes instanceof Uint8Array ? bytes : Buffer.concat(bytes));

export const processIo: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  outBytes: (bytes) => {
    if (bytes instanceof Uint8Array) return void process.stdout.write(bytes);
    // (Corked: a pipe gets the parts in one writev.)
    process.stdout.cork();
    for (const b of bytes) process.stdout.write(b);
    process.stdout.uncork();
  },
  err: (line) => process.stderr.write(line + '\n'),
  get columns() {
    return terminalColumns();
  },
};

/** Values whose JSON was made already (rememberJson), as UTF-8 with a final newline: printed as made, not again. */
const rendered = new WeakMap<object, JsonBytes>();

export function printJson(io: Io, value: unknown): void {
  const bytes = value !== null && typeof value === 'object' ? rendered.get(value) : undefined;
  if (bytes && io.outBytes) io.outBytes(bytes);
  else if (bytes) {
    const b = joinedBytes(bytes);
    io.out(Buffer.from(b.buffer, b.byteOffset, b.byteLength - 1).toString());
  } else io.out(JSON.stringify(value, null, 2));
}

/** `bytes` are printJson's output for `value` (made already, or read back from where they were kept; `value` is not to be changed). */
export function rememberJson(value: object, bytes: JsonBytes): void {
  rendered.set(value, bytes);
}
