/**
 * The command line as a user meets it, through the real CLI (bin/portsync.js): --help on every
 * command, `help CMD`, --version, usage errors that name the command and the option (exit 2, no
 * stack trace), "did you mean", and the bash and zsh completion scripts run in real shells.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandList } from '../src/cli/commands.js';
import { main } from '../src/cli/main.js';
import { TestProject, REPO } from './helpers/project.js';
import { BIN, cli } from './helpers/wait.js';

const p = new TestProject({ ports: ['textproc/gamma', 'math/*'], backend: 'host' });
after(() => p.remove());

/** No COLUMNS from the runner's shell: help is 80 wide, tables unlimited. */
const env = { ...process.env, COLUMNS: '' };
const run = (args: string[]) => cli(p.dir, args, env);

/** The same entry point in this process (main() with a captured Io): for sweeps over every command. */
async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--config', p.config, ...args], { out: (l) => out.push(l), err: (l) => err.push(l), columns: undefined });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('--help on every command prints its usage, options and exit statuses on stdout, exit 0', async () => {
  for (const { info } of commandList) {
    const r = await inProcess([info.name, '--help']);
    assert.equal(r.code, 0, `${info.name} --help: ${r.err}`);
    assert.equal(r.err, '', `${info.name} --help writes nothing on stderr`);
    assert.ok(r.out.startsWith(`usage: portsync [--config FILE] ${info.name}`), `${info.name}: ${r.out.slice(0, 80)}`);
    for (const option of Object.keys(info.options))
      assert.match(r.out, new RegExp(`--${option}\\b`), `${info.name} --help lists --${option}`);
    for (const [code] of info.exits)
      assert.match(r.out, new RegExp(`\\n  ${code.replace('/', '\\/')}\\s`), `${info.name} --help gives exit status ${code}`);
    for (const line of r.out.split('\n')) assert.ok(line.length <= 80, `${info.name} --help fits 80 columns: ${line}`);
  }
});

test('the real CLI: help CMD is CMD --help, -h too, and before the command; --help lists every command; --version', async () => {
  const [viaHelp, viaFlag, viaShort, before, program, version] = await Promise.all([
    run(['help', 'reconcile']),
    run(['reconcile', '--help']),
    run(['reconcile', '-h', '--no-such-option']),
    run(['--help', 'reconcile']),
    run(['--help']),
    run(['--version']),
  ]);
  assert.equal(viaFlag.code, 0, viaFlag.err);
  assert.equal(viaFlag.err, '');
  assert.equal(viaHelp.code, 0);
  assert.equal(viaHelp.out, viaFlag.out);
  assert.equal(viaShort.out, viaFlag.out, '-h wins over a bad option');
  assert.equal(before.out, viaFlag.out);
  assert.match(viaFlag.out, /\[--force ORIGIN\]\.\.\..*\[ORIGIN\.\.\.\]/s);
  assert.match(viaFlag.out, /130\/143 +stopped by SIGINT\/SIGTERM/);
  assert.equal(program.code, 0);
  for (const c of commandList) assert.match(program.out, new RegExp(`\\n  ${c.info.name} +\\S`), `portsync --help lists ${c.info.name}`);
  assert.match(program.out, /COLUMNS/);
  assert.equal(version.code, 0);
  assert.equal(version.out.trim(), (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
});

const USAGE_ERRORS: [string[], RegExp][] = [
  [
    ['reconcile', '--forse', 'devel/libalpha'],
    /^portsync reconcile: unknown option --forse \(did you mean --force\?\)\nusage: portsync \[--config FILE\] reconcile /,
  ],
  [['reconcile', '--force'], /^portsync reconcile: --force needs a value \(ORIGIN\)/],
  [['reconcile', '--force', '--dry-run'], /^portsync reconcile: --force needs a value \(ORIGIN\), not the option --dry-run/],
  [['reconcile', '--force', 'nonsense'], /^portsync reconcile: --force: "nonsense" is not an origin/],
  [['reconcile', '-q', '-v'], /^portsync reconcile: choose one of --quiet and --verbose/],
  [['report', '--limit', 'ten'], /^portsync report: --limit: "ten" is not a whole number above zero/],
  [['trigger', '--kind', 'gitpush'], /^portsync trigger: --kind: "gitpush" is not one of manual, git-push \(did you mean git-push\?\)/],
  [['plan', '--json=yes'], /^portsync plan: --json takes no value/],
  [['why'], /^portsync why: missing ORIGIN/],
  [['history', 'devel/libalpha', 'devel/libbeta'], /^portsync history: too many arguments: devel\/libbeta/],
  [['watch', 'now'], /^portsync watch: it takes no arguments, got now/],
  [['hook', 'install'], /^portsync hook: --repo DIR is required/],
  [['hook', 'uninstall', '--repo', '.'], /^portsync hook: SUBCOMMAND: "uninstall" is not one of install/],
  [['sql', '--json', '--csv', 'SELECT 1'], /^portsync sql: choose one of --json and --csv/],
  [['completion', 'fish'], /^portsync completion: SHELL: "fish" is not one of bash, zsh/],
  [['completion'], /^portsync completion: name the shell: bash or zsh/],
  [['validate', '--schema'], /^portsync validate: unknown option --schema \(did you mean --schema-only\?\)/],
  [['--verbose', 'plan'], /^portsync: unknown option --verbose before the command/],
  [['reconcle'], /^portsync: unknown command "reconcle" \(did you mean reconcile\?\)/],
  [['recon'], /^portsync: unknown command "recon" \(did you mean reconcile\?\)/],
  [['help', 'stauts'], /^portsync help: unknown command "stauts" \(did you mean status\?\)/],
  [[], /^portsync: no command given; the commands are validate, plan, reconcile/],
];

test('usage errors name the command and the option, exit 2, never a stack trace; mistyped commands get "did you mean"', async () => {
  for (const [args, expected] of USAGE_ERRORS) {
    const line = `portsync ${args.join(' ')}`;
    const r = await inProcess(args);
    assert.equal(r.code, 2, `${line}: exit ${r.code}\n${r.err}`);
    assert.match(r.err, expected, line);
    assert.doesNotMatch(r.err, /internal error|\n\s+at /, `${line}: no stack trace`);
    assert.equal(r.out, '', `${line}: nothing on stdout`);
  }
});

test('the real CLI: a usage error and a mistyped command exit 2 with the message on stderr only', async () => {
  const [option, command, none] = await Promise.all([
    run(['reconcile', '--forse', 'devel/libalpha']),
    run(['reconcle']),
    run(['--config']),
  ]);
  assert.equal(option.code, 2);
  assert.match(option.err, USAGE_ERRORS[0]![1]);
  assert.equal(option.out, '');
  assert.equal(command.code, 2);
  assert.match(command.err, /^portsync: unknown command "reconcle" \(did you mean reconcile\?\)/);
  assert.equal(none.code, 2);
  assert.match(none.err, /^portsync: --config needs a value \(FILE\)/);
});

/** A directory on PATH with a `portsync` that runs this checkout, as an installed one would. */
function pathWithPortsync(): string {
  const dir = join(p.dir, 'bin');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'portsync'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(join(dir, 'portsync'), 0o755);
  return `${dir}:${process.env.PATH}`;
}

test('bash completion, generated from the declarations: commands, options, choices, origins of the tree', async () => {
  const script = await run(['completion', 'bash']);
  assert.equal(script.code, 0, script.err);
  const file = join(p.dir, 'portsync.bash');
  writeFileSync(file, script.out);
  const lines: [string[], string][] = [
    [['portsync', 'rec'], 'reconcile'],
    [['portsync', 'reconcile', '--fo'], '--force'],
    [['portsync', 'reconcile', '--force', 'math/numb'], 'math/numbase'],
    [['portsync', '--config', 'builds.yaml', 'why', 'textproc/g'], 'textproc/gamma'],
    [['portsync', 'hook', 'install', '--hook', 'post-'], 'post-receive post-commit post-merge'],
    [['portsync', 'hook', ''], 'install'],
    [['portsync', 'completion', ''], 'bash zsh'],
    [['portsync', 'help', 'rep'], 'report'],
    [['portsync', 'sql', '--c'], '--csv --config'],
    [['portsync', 'report', '--limit', ''], ''],
  ];
  const calls = lines.map(([words]) => `t ${words.map((w) => `'${w}'`).join(' ')}`).join('\n');
  const bash = spawnSync(
    'bash',
    [
      '-c',
      `source '${file}'\nt() { COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _portsync; echo "\${COMPREPLY[*]}"; }\n${calls}`,
    ],
    {
      cwd: p.dir,
      env: { ...env, PATH: pathWithPortsync() },
      encoding: 'utf8',
    },
  );
  assert.equal(bash.status, 0, bash.stderr);
  const got = bash.stdout.split('\n');
  lines.forEach(([words, expected], i) => assert.equal(got[i], expected, `completing: ${words.join(' ')}`));
});

const zshMissing = spawnSync('zsh', ['--version']).status === 0 ? undefined : 'zsh is not installed (apt-get install zsh)';

test('zsh completion, generated from the declarations, in a real interactive zsh', { skip: zshMissing }, async () => {
  const script = await run(['completion', 'zsh']);
  assert.equal(script.code, 0, script.err);
  const fdir = join(p.dir, 'zfunc');
  mkdirSync(fdir, { recursive: true });
  writeFileSync(join(fdir, '_portsync'), script.out);
  assert.equal(spawnSync('zsh', ['-n', join(fdir, '_portsync')]).status, 0, 'the script parses');
  // An interactive zsh on a pty: type the line and TAB; compadd is wrapped to print what is offered.
  const capture = `
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PROMPT=""; unsetopt zle_bracketed_paste 2>/dev/null'
zpty -w z 'fpath=(${fdir} $fpath); autoload -U compinit; compinit -u -D'
zpty -w z 'compadd () { if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return; fi; local -a hits; builtin compadd -A hits "$@"; local h; for h in $hits; do print -r -- "<<$h>>"; done; builtin compadd "$@" }'
zpty -w z '_done () { zle complete-word; print -r -- "<<DONE>>" }; zle -N _done; bindkey "^I" _done'
zpty -w z 'print -r -- READY-$((20 + 22))'
zpty -r z setup '*READY-42*'
zpty -w -n z "$1"$'\\t'
out=""; integer end=$(( SECONDS + 60 ))
while (( SECONDS < end )); do
  if zpty -r -t z chunk; then out+=$chunk; [[ $out == *'<<DONE>>'* ]] && break; else sleep 0.1; fi
done
print -r -- "$out" | grep -ao '<<[^>]*>>' | grep -v DONE | sort -u | tr -d '<>' | tr '\\n' ' '
zpty -d z
`;
  const offered = (line: string) => {
    const r = spawnSync('zsh', ['-f', '-c', capture, 'capture', line], {
      cwd: p.dir,
      env: { ...env, PATH: pathWithPortsync() },
      encoding: 'utf8',
    });
    return r.stdout.trim().split(' ');
  };
  assert.deepEqual(offered('portsync recon'), ['reconcile']);
  assert.deepEqual(offered('portsync hook install --hook '), ['post-commit', 'post-merge', 'post-receive']);
  assert.deepEqual(offered('portsync completion '), ['bash', 'zsh']);
  assert.deepEqual(offered('portsync sql --'), ['--csv', '--help', '--json', '--wide']);
  assert.deepEqual(offered('portsync reconcile --force math/num'), ['math/numadd', 'math/numbase', 'math/numcalc', 'math/nummul']);
});
