/**
 * The config file as the CLI first meets it: a missing file is told plainly, with the next
 * step, rather than as a positioned problem about a file that is not there. And what `check`
 * reads off the YAML before any validation: where the `${file:…}` references and the inline
 * client secrets are.
 */
import { statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { type ConfigPath, formatPath } from '../config/positions.ts';

/** The message for a config file that does not exist, or undefined when it does (or cannot tell). */
export function missingConfigFile(file: string): string | undefined {
  try {
    statSync(file);
    return undefined;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') return undefined; // the loader says why
    return (
      `gatehouse: file not found: ${file} — create it (config/gatehouse.example.yaml is a ` +
      'commented start) or pass --config FILE (or set GATEHOUSE_CONFIG)\n'
    );
  }
}

export interface SecretScan {
  /** paths whose value reads a `${file:…}` reference, with the file */
  readonly fileRefs: readonly { path: string; file: string }[];
  /** `client_secret` values written into the config itself */
  readonly inlineClientSecrets: readonly ConfigPath[];
}

const FILE_REF = /\$\{file:([^}]*)\}/g;

/** A best-effort read of the YAML (a document that does not parse yields nothing; the loader reports it). */
export function scanSecrets(text: string): SecretScan {
  const fileRefs: { path: string; file: string }[] = [];
  const inlineClientSecrets: ConfigPath[] = [];
  let value: unknown;
  try {
    const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false, merge: false });
    if (doc.errors.length > 0) return { fileRefs, inlineClientSecrets };
    value = doc.toJS({ maxAliasCount: 100 });
  } catch {
    return { fileRefs, inlineClientSecrets };
  }
  let nodes = 0;
  const walk = (v: unknown, path: ConfigPath, depth: number) => {
    if (++nodes > 100_000 || depth > 64) return;
    if (typeof v === 'string') {
      // `$${` is a literal `${`, not a reference
      for (const m of v.replaceAll('$${', '').matchAll(FILE_REF))
        fileRefs.push({ path: formatPath(path), file: m[1]! });
      if (path.at(-1) === 'client_secret' && v.length > 0 && !v.replaceAll('$${', '').includes('${'))
        inlineClientSecrets.push(path);
    } else if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) walk(item, [...path, i], depth + 1);
    } else if (v !== null && typeof v === 'object')
      for (const [k, item] of Object.entries(v)) walk(item, [...path, k], depth + 1);
  };
  walk(value, [], 0);
  return { fileRefs, inlineClientSecrets };
}
