/**
 * Writes a synthetic ports tree for benchmarks: N ports over ~30 categories with a realistic
 * dependency shape (5–15 dependencies each across BUILD/LIB/RUN, a few hub ports with thousands
 * of dependents, ~15% flavored, ~2% IGNOREd), acyclic and deterministic for a seed.
 *
 *   tsx bench/gen-tree.ts --ports 10000 --out DIR [--seed N] [--shape simple|real]
 *
 * The tree uses the example framework (examples/ports/Mk, copied in) plus Mk/synthetic.mk, which
 * makes every port install the files its dependents check for, so the tree can even be "built".
 *
 * `shape: 'real'` makes reading it cost what a real tree costs: every port reads ~40 framework
 * makefiles of a few hundred lines (Mk/Components, always) plus those of its USES (Mk/Uses, 0–4
 * of 12), as FreeBSD/MidnightBSD ports read bsd.port.mk's includes — so there are a few hundred
 * distinct sets of input files — and port directories hold distinfo, pkg-plist and, for a third
 * of them, files/patch-*. Same ports and dependencies as 'simple' for a seed.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { PortsyncError } from '../src/errors.js';

export const EXAMPLE_MK = resolve(dirname(fileURLToPath(import.meta.url)), '../examples/ports/Mk');

/** The output directory already holds files; the generator never overwrites a tree. */
export class TreeOutputNotEmptyError extends PortsyncError {
  constructor(readonly dir: string) {
    super(`${dir} is not empty; give --out a new or empty directory (the generator never overwrites a tree)`);
  }
}

/** A command-line argument of gen-tree is missing or invalid. */
export class GenTreeUsageError extends PortsyncError {
  constructor(
    readonly option: string,
    detail: string,
  ) {
    super(`gen-tree: --${option} ${detail}\nusage: tsx bench/gen-tree.ts --ports N --out DIR [--seed N] [--shape simple|real]`);
  }
}

export interface GenerateTreeOptions {
  /** Number of ports to write (at least 1). */
  ports: number;
  /** Directory to create the tree in; must not exist or be empty. */
  out: string;
  /** PRNG seed; the same seed and port count give byte-identical trees. Default 1. */
  seed?: number;
  /** Framework to copy into `<out>/Mk`. Default: examples/ports/Mk. */
  mkDir?: string;
  /** 'simple' (default): 4 small makefiles per port. 'real': ~40–45 larger ones and fuller port directories. */
  shape?: 'simple' | 'real';
}

/** Framework files every port reads in the real shape, and the optional USES ones. */
const COMPONENTS = 36;
const USES = ['gmake', 'pkgconfig', 'libtool', 'cmake', 'python', 'perl5', 'gettext', 'iconv', 'ssl', 'tar', 'shebangfix', 'cpe'];

/** A synthetic framework makefile: guarded, ~`lines` assignments with modifiers, some conditionals. */
function frameworkMk(name: string, lines: number, rnd: () => number): string {
  const id = name.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  const out = [`# ${name}.mk: synthetic framework makefile (bench/gen-tree.ts, shape real)`, `.if !defined(_${id}_MK)`, `_${id}_MK=\tyes`];
  for (let i = 0; i < lines; i++) {
    const r = rnd();
    if (r < 0.5) out.push(`_${id}_V${i}?=\t\${PORTNAME:S/-/_/g}-${i} \${PORTVERSION:R}`);
    else if (r < 0.7) out.push(`_${id}_L${i}=\t\${CATEGORIES:[1]}/\${PORTNAME}${i}`);
    else if (r < 0.9)
      out.push(
        `.if defined(WITH_${id}_${i}) && !empty(WITH_${id}_${i}:M[Yy][Ee][Ss])`,
        `_${id}_O${i}=\ton`,
        `.else`,
        `_${id}_O${i}=\toff`,
        `.endif`,
      );
    else out.push(`.for _x in a b c`, `_${id}_F${i}_\${_x}=\t\${_x}${i}`, `.endfor`);
  }
  out.push('.endif', '');
  return out.join('\n');
}

/** Includes the framework files of the real shape: all components, then the port's USES. */
const REAL_MK = `# real.mk: what a port of the real-shaped benchmark tree reads before bsd.port.mk.
.for _c in \${_REAL_COMPONENTS}
.include "\${.PARSEDIR}/Components/\${_c}.mk"
.endfor
.for _u in \${USES:C/:.*//}
.include "\${.PARSEDIR}/Uses/\${_u}.mk"
.endfor
`;

export interface GeneratedPort {
  /** `cat/name`. */
  origin: string;
  flavors: string[];
  ignored: boolean;
  /** Dependency entries as written for the default flavor (`target:origin[:tag]`, expanded). */
  depends: { kind: 'BUILD' | 'LIB' | 'RUN'; origin: string; flavor: string }[];
}

export interface GenerateTreeSummary {
  out: string;
  ports: number;
  /** Dependency entries of every port's default flavor. */
  edges: number;
  flavored: number;
  ignored: number;
  categories: number;
  /** Entries written with an `@flavor` (default-flavor evaluation; flavored ports add their `@${FLAVOR}` ones). */
  flavorEdges: number;
  /** Dependents of the busiest hub (default-flavor entries). */
  maxDependents: number;
  durationMs: number;
  /** Every port, in generation order (dependencies always come earlier). */
  portList: GeneratedPort[];
}

const CATEGORIES = [
  'accessibility',
  'archivers',
  'audio',
  'benchmarks',
  'biology',
  'cad',
  'comms',
  'converters',
  'databases',
  'deskutils',
  'devel',
  'dns',
  'editors',
  'emulators',
  'finance',
  'ftp',
  'games',
  'graphics',
  'irc',
  'lang',
  'mail',
  'math',
  'multimedia',
  'net',
  'news',
  'print',
  'science',
  'security',
  'sysutils',
  'textproc',
  'www',
  'x11',
];

/** Hubs come first (so everything may depend on them); the flavored one is python's stand-in. */
const HUBS: { origin: string; kind: 'BUILD' | 'LIB'; flavors?: string[] }[] = [
  { origin: 'devel/pkgconf', kind: 'BUILD' },
  { origin: 'devel/gmake', kind: 'BUILD' },
  { origin: 'devel/gettext-runtime', kind: 'LIB' },
  { origin: 'lang/python', kind: 'BUILD', flavors: ['py311', 'py312'] },
  { origin: 'converters/libiconv', kind: 'LIB' },
  { origin: 'devel/glib20', kind: 'LIB' },
  { origin: 'security/openssl', kind: 'LIB' },
  { origin: 'devel/cmake', kind: 'BUILD' },
  { origin: 'textproc/libxml2', kind: 'LIB' },
  { origin: 'graphics/png', kind: 'LIB' },
  { origin: 'x11/libX11', kind: 'LIB' },
  { origin: 'devel/gettext-tools', kind: 'BUILD' },
];
const PY_FLAVORS = ['py311', 'py312'];

const SYNTHETIC_MK = `# synthetic.mk: generated ports build nothing; each installs the files its dependents
# check for: bin/<name>, lib/lib<name>.so and include/<name>.h (<name> gets -<flavor> when flavored).
SYNTH_NAME=	\${PORTNAME}\${FLAVOR:C/.+/-&/}
DISTFILES=
NO_BUILD=	yes

do-install:
	@mkdir -p \${STAGEDIR}\${PREFIX}/bin \${STAGEDIR}\${PREFIX}/lib \${STAGEDIR}\${PREFIX}/include
	@printf '#!/bin/sh\\necho %s\\n' \${SYNTH_NAME} > \${STAGEDIR}\${PREFIX}/bin/\${SYNTH_NAME}
	@chmod 755 \${STAGEDIR}\${PREFIX}/bin/\${SYNTH_NAME}
	@echo '/* \${PKGNAME} */' > \${STAGEDIR}\${PREFIX}/include/\${SYNTH_NAME}.h
	@: > \${STAGEDIR}\${PREFIX}/lib/lib\${SYNTH_NAME}.so
`;

/** mulberry32: small, fast, and good enough to shape a tree. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface PlannedPort {
  cat: string;
  name: string;
  version: string;
  flavors: string[];
  ignored: boolean;
  hubKind?: 'BUILD' | 'LIB';
}

/** The file name a dependency checks for, matching what synthetic.mk installs. */
function synthName(p: PlannedPort, flavor: string): string {
  return flavor ? `${p.name}-${flavor}` : p.name;
}

function planPorts(n: number, rnd: () => number): PlannedPort[] {
  const hubCount = Math.min(HUBS.length, Math.max(1, Math.floor(n / 20)));
  const ports: PlannedPort[] = [];
  // Exactly one port in 50 is IGNOREd (2%), at a seed-dependent place in each block.
  const ignoreSlot = Math.floor(rnd() * 50);
  for (let i = 0; i < n; i++) {
    if (i < hubCount) {
      const h = HUBS[i]!;
      const [cat, name] = h.origin.split('/') as [string, string];
      ports.push({ cat, name, version: '1.0', flavors: h.flavors ?? [], ignored: false, hubKind: h.kind });
      continue;
    }
    const cat = CATEGORIES[Math.floor(rnd() * CATEGORIES.length)]!;
    const flavored = rnd() < 0.15;
    ports.push({
      cat,
      name: flavored ? `py-p${String(i).padStart(5, '0')}` : `p${String(i).padStart(5, '0')}`,
      version: `${1 + Math.floor(rnd() * 5)}.${Math.floor(rnd() * 20)}`,
      flavors: flavored ? PY_FLAVORS : [],
      ignored: i % 50 === ignoreSlot,
    });
  }
  return ports;
}

interface Entry {
  kind: 'BUILD' | 'LIB' | 'RUN';
  text: string;
  dep: number;
  /** The flavor written after `@`, or ''. */
  written: string;
  /** The flavor meant when it is not the default, or ''. */
  flavor: string;
}

/**
 * One dependency entry on port `d` (index into ports), as a Makefile would write it.
 * `written` is the flavor spelled after `@` ('' for the bare origin, which means the default).
 */
function entryFor(ports: PlannedPort[], d: number, kind: Entry['kind'], written: string, rnd: () => number): Entry {
  const p = ports[d]!;
  const flavor = written || p.flavors[0] || '';
  const name = synthName(p, flavor);
  let origin = `${p.cat}/${p.name}${written ? `@${written}` : ''}`;
  const r = rnd();
  if (r < 0.02) origin = `\${PORTSDIR}/${origin}`;
  let target: string;
  if (kind === 'LIB') target = `lib${name}.so`;
  else if (kind === 'BUILD' && r > 0.5) target = `\${LOCALBASE}/include/${name}.h`;
  else if (p.flavors.length === 0 && r > 0.985) target = `${p.name}>=1.0`;
  else target = name;
  const tag = r > 0.02 && r < 0.03 ? ':build' : '';
  return { kind, text: `${target}:${origin}${tag}`, dep: d, written, flavor: flavor === p.flavors[0] ? '' : flavor };
}

function dependenciesOf(ports: PlannedPort[], i: number, hubCount: number, rnd: () => number): Entry[] {
  if (i < hubCount) {
    // Hubs depend a little on earlier hubs only.
    return i > 0 && rnd() < 0.5 ? [entryFor(ports, Math.floor(rnd() * i), 'BUILD', '', rnd)] : [];
  }
  const entries: Entry[] = [];
  const used = new Set<number>();
  // Hubs by rank: the first has ~60% of all ports as dependents, the twelfth ~8%.
  for (let h = 0; h < hubCount; h++) {
    if (HUBS[h]!.flavors) continue;
    if (rnd() < 0.6 / Math.pow(h + 1, 0.8)) {
      used.add(h);
      entries.push(entryFor(ports, h, HUBS[h]!.kind, '', rnd));
    }
  }
  const want = 5 + Math.floor(rnd() * 11);
  const earlier = i - hubCount;
  for (let tries = 0; entries.length < want && tries < want * 4 && earlier > 0; tries++) {
    // Skewed towards recent ports: libraries tend to sit close to their users.
    const d = hubCount + Math.floor(Math.pow(rnd(), 0.7) * earlier);
    // IGNOREd ports are leaves here: in a real tree a dependency on one would block its
    // dependents' whole cone, which a benchmark of a buildable tree must not measure.
    if (used.has(d) || d >= i || ports[d]!.ignored) continue;
    used.add(d);
    const r = rnd();
    const kind: Entry['kind'] = r < 0.4 ? 'BUILD' : r < 0.65 ? 'LIB' : 'RUN';
    const target = ports[d]!;
    // On a flavored port: half name the other flavor, a quarter spell out the default one.
    const f = rnd();
    const written = target.flavors.length === 0 ? '' : f < 0.5 ? target.flavors[1]! : f < 0.75 ? target.flavors[0]! : '';
    entries.push(entryFor(ports, d, kind, written, rnd));
  }
  return entries;
}

function makefile(p: PlannedPort, entries: Entry[], pythonHub: PlannedPort | undefined, uses?: string[]): string {
  const lines = [
    `PORTNAME=\t${p.name}`,
    `PORTVERSION=\t${p.version}`,
    `CATEGORIES=\t${p.cat}`,
    `COMMENT=\tSynthetic port ${p.cat}/${p.name}`,
    'MAINTAINER=\tbench@example.org',
    '',
  ];
  if (p.flavors.length > 0) {
    lines.push(`FLAVORS=\t${p.flavors.join(' ')}`, 'PKGNAMEPREFIX=\t${FLAVOR}-', '');
  }
  if (p.ignored) lines.push('IGNORE=\t\tis synthetic and marked IGNORE for the benchmark', '');
  if (uses?.length) lines.push(`USES=\t\t${uses.join(' ')}`, '');
  const before = lines.length;
  for (const kind of ['BUILD', 'LIB', 'RUN'] as const) {
    const texts = entries.filter((e) => e.kind === kind).map((e) => e.text);
    // Flavored ports use the interpreter of their own flavor, like real py-* ports.
    if (p.flavors.length > 0 && pythonHub && p !== pythonHub && kind !== 'LIB') {
      texts.push(`${pythonHub.name}-\${FLAVOR}:${pythonHub.cat}/${pythonHub.name}@\${FLAVOR}`);
    }
    if (texts.length > 0) lines.push(`${kind}_DEPENDS=\t${texts.join(' \\\n\t\t')}`);
  }
  if (lines.length > before) lines.push('');
  if (uses) lines.push('.include <real.mk>');
  lines.push('.include <synthetic.mk>', '.include <bsd.port.mk>', '');
  return lines.join('\n');
}

/** Writes the tree and returns what was written. Throws TreeOutputNotEmptyError for a non-empty `out`. */
export function generateTree(opts: GenerateTreeOptions): GenerateTreeSummary {
  const started = performance.now();
  const out = resolve(opts.out);
  if (!Number.isInteger(opts.ports) || opts.ports < 1)
    throw new GenTreeUsageError('ports', `must be a positive integer, not ${opts.ports}`);
  if (existsSync(out) && readdirSync(out).length > 0) throw new TreeOutputNotEmptyError(out);
  const rnd = prng(opts.seed ?? 1);
  const ports = planPorts(opts.ports, rnd);
  const hubCount = ports.filter((p) => p.hubKind).length;
  const pythonHub = ports.find((p) => p.hubKind && p.flavors.length > 0);

  mkdirSync(out, { recursive: true });
  cpSync(opts.mkDir ?? EXAMPLE_MK, join(out, 'Mk'), { recursive: true });
  writeFileSync(join(out, 'Mk', 'synthetic.mk'), SYNTHETIC_MK);
  // The real shape draws from its own generator: same ports and dependencies as 'simple'.
  const real = opts.shape === 'real' ? prng((opts.seed ?? 1) + 0x5eed) : undefined;
  if (real) {
    mkdirSync(join(out, 'Mk', 'Components'));
    mkdirSync(join(out, 'Mk', 'Uses'));
    const names = Array.from({ length: COMPONENTS }, (_, i) => `c${String(i).padStart(2, '0')}`);
    for (const c of names) writeFileSync(join(out, 'Mk', 'Components', `${c}.mk`), frameworkMk(c, 40 + Math.floor(real() * 60), real));
    for (const u of USES) writeFileSync(join(out, 'Mk', 'Uses', `${u}.mk`), frameworkMk(u, 20 + Math.floor(real() * 40), real));
    writeFileSync(join(out, 'Mk', 'real.mk'), `_REAL_COMPONENTS=\t${names.join(' ')}\n${REAL_MK}`);
  }
  const madeCats = new Set<string>();
  const dependents = new Map<number, number>();
  const portList: GeneratedPort[] = [];
  let edges = 0;
  let flavorEdges = 0;
  for (let i = 0; i < ports.length; i++) {
    const p = ports[i]!;
    const entries = dependenciesOf(ports, i, hubCount, rnd);
    const dir = join(out, p.cat, p.name);
    if (!madeCats.has(p.cat)) {
      mkdirSync(join(out, p.cat), { recursive: true });
      madeCats.add(p.cat);
    }
    mkdirSync(dir);
    let uses: string[] | undefined;
    if (real) {
      uses = USES.filter(() => real() < 0.15).slice(0, 4);
      writeFileSync(
        join(dir, 'distinfo'),
        `TIMESTAMP = ${1700000000 + i}\nSHA256 (${p.name}-${p.version}.tar.gz) = ${((i * 2654435761) >>> 0).toString(16).padStart(64, '0')}\nSIZE (${p.name}-${p.version}.tar.gz) = ${1000 + i}\n`,
      );
      writeFileSync(join(dir, 'pkg-plist'), `bin/${p.name}\ninclude/${p.name}.h\nlib/lib${p.name}.so\n`);
      if (real() < 0.33) {
        mkdirSync(join(dir, 'files'));
        writeFileSync(join(dir, 'files', 'patch-Makefile'), `--- Makefile.orig\n+++ Makefile\n@@ -1 +1 @@\n-CC=gcc\n+CC?=cc\n`);
        writeFileSync(
          join(dir, 'files', 'patch-src_main.c'),
          `--- src/main.c.orig\n+++ src/main.c\n@@ -1 +1 @@\n-#include <malloc.h>\n+#include <stdlib.h>\n`,
        );
      }
    }
    writeFileSync(join(dir, 'Makefile'), makefile(p, entries, pythonHub, uses));
    writeFileSync(join(dir, 'pkg-descr'), `Synthetic port number ${i} of a generated benchmark tree.\n`);
    const depends: GeneratedPort['depends'] = entries.map((e) => {
      const d = ports[e.dep]!;
      return { kind: e.kind, origin: `${d.cat}/${d.name}`, flavor: e.flavor };
    });
    if (p.flavors.length > 0 && pythonHub && p !== pythonHub) {
      const origin = `${pythonHub.cat}/${pythonHub.name}`;
      depends.push({ kind: 'BUILD', origin, flavor: '' }, { kind: 'RUN', origin, flavor: '' });
    }
    for (const e of entries) dependents.set(e.dep, (dependents.get(e.dep) ?? 0) + 1);
    edges += depends.length;
    flavorEdges += entries.filter((e) => e.written).length;
    portList.push({ origin: `${p.cat}/${p.name}`, flavors: p.flavors, ignored: p.ignored, depends });
  }
  return {
    out,
    ports: ports.length,
    edges,
    flavored: ports.filter((p) => p.flavors.length > 0).length,
    ignored: ports.filter((p) => p.ignored).length,
    categories: madeCats.size,
    flavorEdges,
    maxDependents: Math.max(0, ...dependents.values()),
    durationMs: Math.round(performance.now() - started),
    portList,
  };
}

function main(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: { ports: { type: 'string' }, out: { type: 'string' }, seed: { type: 'string' }, shape: { type: 'string' } },
    strict: true,
  });
  if (!values.out) throw new GenTreeUsageError('out', 'is required');
  const ports = Number(values.ports ?? '');
  if (!values.ports || !Number.isInteger(ports) || ports < 1)
    throw new GenTreeUsageError('ports', `must be a positive integer (got ${values.ports ?? 'nothing'})`);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed)) throw new GenTreeUsageError('seed', `must be an integer (got ${values.seed})`);
  if (values.shape !== undefined && values.shape !== 'simple' && values.shape !== 'real')
    throw new GenTreeUsageError('shape', `must be simple or real (got ${values.shape})`);
  const s = generateTree({ ports, out: values.out, seed, shape: values.shape ?? 'simple' });
  console.log(
    `wrote ${s.out}: ${s.ports} ports in ${s.categories} categories, ${s.edges} dependency entries ` +
      `(${s.flavorEdges} with an @flavor), ${s.flavored} flavored, ${s.ignored} ignored, ` +
      `busiest hub has ${s.maxDependents} dependents, in ${s.durationMs} ms`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  }
}
