/**
 * The secret scanner over the log and audit files the test suite wrote (issue 10). It knows
 * secrets by shape – JWTs (`eyJ….eyJ…`), iron seals (`Fe26.2*…`, session and login cookies),
 * authorization codes in a query (`code=…`) – and by value: every secret-looking literal in the
 * test sources and the dev IdP (client secrets, cookie secrets), so a config dump that forgot to
 * redact one is caught even though it has no telltale shape.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Finding {
  file: string;
  line: number;
  kind: 'jwt' | 'iron-seal' | 'authorization-code' | 'literal-secret';
  /** the first characters of the match only: the report must not become the leak */
  excerpt: string;
}

const SHAPES: ReadonlyArray<[Finding['kind'], RegExp]> = [
  ['jwt', /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.?[A-Za-z0-9_-]*/g],
  ['iron-seal', /Fe26\.2\*[^\s"',;]*/g],
  ['authorization-code', /[?&]code=[A-Za-z0-9_\-.~%]{8,}/g],
];

/** Secret-looking literals: a word containing "secret", 24+ characters, with a digit. */
export function literalSecrets(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/[A-Za-z0-9_.~+/-]*secret[A-Za-z0-9_.~+/-]*/gi)) {
    const s = m[0];
    if (s.length >= 24 && /\d/.test(s)) out.add(s);
  }
  return out;
}

/** Every literal secret in the `.ts`, `.yaml` and `.json` files under `roots`. */
export function collectLiteralSecrets(roots: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const root of roots) {
    for (const file of walk(root)) {
      if (!/\.(ts|ya?ml|json)$/.test(file)) continue;
      for (const s of literalSecrets(readFileSync(file, 'utf8'))) out.add(s);
    }
  }
  return out;
}

export function scanText(text: string, literals: ReadonlySet<string>, file = '(text)'): Finding[] {
  const findings: Finding[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    for (const [kind, re] of SHAPES) {
      for (const m of line.matchAll(re))
        findings.push({ file, line: i + 1, kind, excerpt: `${m[0].slice(0, 12)}…` });
    }
    for (const secret of literals) {
      if (line.includes(secret))
        findings.push({ file, line: i + 1, kind: 'literal-secret', excerpt: `${secret.slice(0, 6)}…` });
    }
  }
  return findings;
}

/** Scan every `*.log` file under `dir` (recursively). */
export function scanDir(
  dir: string,
  literals: ReadonlySet<string>,
): { files: number; lines: number; findings: Finding[] } {
  let files = 0;
  let lines = 0;
  const findings: Finding[] = [];
  for (const file of walk(dir)) {
    if (!file.endsWith('.log')) continue;
    files++;
    const text = readFileSync(file, 'utf8');
    lines += text.split('\n').filter(Boolean).length;
    findings.push(...scanText(text, literals, relative(dir, file)));
  }
  return { files, lines, findings };
}

function* walk(dir: string): Generator<string> {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) yield* walk(path);
    else if (st?.isFile()) yield path;
  }
}
