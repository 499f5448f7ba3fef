import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';

export type ConfigPath = (string | number)[];
export interface SourcePos {
  line: number;
  col: number;
}

/** Finds where a value (or a key) of a parsed YAML document stands in its source. */
export class YamlLocator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  /** Start of the value at `path`; the nearest existing ancestor when it is absent. */
  valuePos(path: ConfigPath): SourcePos {
    const { node, pair } = this.walk(path);
    return this.posOf(node ?? (pair?.key as Node | undefined));
  }

  /** Start of the key naming the last segment of `path` (for unknown keys); falls back to valuePos. */
  keyPos(path: ConfigPath): SourcePos {
    const { pair, complete } = this.walk(path);
    if (complete && pair && isScalar(pair.key)) return this.posOf(pair.key);
    return this.valuePos(path);
  }

  /** The source text of the scalar at `path`, if there is one. */
  sourceText(path: ConfigPath): string | undefined {
    const { node, complete } = this.walk(path);
    return complete && isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  }

  private walk(path: ConfigPath): { node: Node | undefined; pair: Pair | undefined; complete: boolean } {
    let node = this.doc.contents as Node | null | undefined;
    let pair: Pair | undefined;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc) as Node | undefined;
      let next: Node | undefined;
      let nextPair: Pair | undefined;
      if (isMap(node)) {
        nextPair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg)) as Pair | undefined;
        next = (nextPair?.value ?? undefined) as Node | undefined;
        if (nextPair && !next) return { node: nextPair.key as Node, pair: nextPair, complete: true };
      } else if (isSeq(node)) {
        next = node.items[Number(seg)] as Node | undefined;
      }
      if (!next) return { node: node ?? undefined, pair, complete: false };
      node = next;
      pair = nextPair;
    }
    return { node: node ?? undefined, pair, complete: true };
  }

  private posOf(node: Node | undefined): SourcePos {
    const offset = node?.range?.[0];
    return offset === undefined ? { line: 1, col: 1 } : this.lines.linePos(offset);
  }
}
