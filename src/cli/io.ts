/** Where a command writes: stdout and stderr, swappable in tests, and how wide its tables may be. */
export interface Io {
  out(line: string): void;
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
  err: (line) => process.stderr.write(line + '\n'),
  get columns() {
    return terminalColumns();
  },
};

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
