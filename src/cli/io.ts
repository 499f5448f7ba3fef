/** Where a command writes: stdout and stderr, swappable in tests, and how wide its tables may be. */
export interface Io {
  out(line: string): void;
  /** Writes these bytes to stdout as they are (a large document already encoded); absent: out() is used. */
  outBytes?(bytes: Uint8Array): void;
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

export const processIo: Io = {
  out: (line) => process.stdout.write(line + '\n'),
  outBytes: (bytes) => process.stdout.write(bytes),
  err: (line) => process.stderr.write(line + '\n'),
  get columns() {
    return terminalColumns();
  },
};

/** Values whose JSON was made already (rememberJson), as UTF-8 with a final newline: printed as made, not again. */
const rendered = new WeakMap<object, Uint8Array>();

export function printJson(io: Io, value: unknown): void {
  const bytes = value !== null && typeof value === 'object' ? rendered.get(value) : undefined;
  if (bytes && io.outBytes) io.outBytes(bytes);
  else if (bytes) io.out(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength - 1).toString());
  else io.out(JSON.stringify(value, null, 2));
}

/** `bytes` are printJson's output for `value` (made already, or read back from where they were kept; `value` is not to be changed). */
export function rememberJson(value: object, bytes: Uint8Array): void {
  rendered.set(value, bytes);
}
