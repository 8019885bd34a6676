/**
 * YAML document → plain data, in one walk that also records every node's position, resolves
 * `${…}` references, finds duplicate keys and marks secret paths. Doing it by hand rather than
 * with `doc.toJS()` is what lets every later problem point at a line and column.
 */
import { type Alias, type Document, isAlias, isMap, isScalar, isSeq, type Node, visit } from 'yaml';
import type { ConfigProblem } from '../errors.ts';
import { type ConfigPath, formatPath, type PositionMap } from './positions.ts';
import { type ReferenceContext, resolveReferences } from './references.ts';

/** Keys whose values are secrets wherever they appear, referenced or not. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'client_secret',
  'secrets',
  'key',
  'private_key',
  'previous_keys',
  'dpop_nonce_secrets',
  'rate_limit_secret',
]);

/** Bounds that keep an alias bomb or a pathological file from exhausting memory or the stack. */
export const MAX_NODES = 100_000;
export const MAX_DEPTH = 64;

export interface Tree {
  value: unknown;
  /** formatted paths of secret values (and their descendants) */
  secretPaths: Set<string>;
  /** a bound was hit and the walk stopped: the value is incomplete and must not be validated */
  aborted: boolean;
  /** the string values at those paths, so no message can echo one */
  secretValues: Set<string>;
  /** formatted paths the walk already reported (failed references…): later checks stay quiet */
  unresolved: Set<string>;
  fileRefs: string[];
  problems: ConfigProblem[];
}

type AnyNode = Node | null | undefined;

export function buildTree(doc: Document.Parsed, positions: PositionMap, refs: ReferenceContext): Tree {
  const tree: Tree = {
    value: null,
    secretPaths: new Set(),
    secretValues: new Set(),
    aborted: false,
    unresolved: new Set(),
    fileRefs: [],
    problems: [],
  };
  const aliases = aliasTargets(doc);
  let nodes = 0;

  // A value the walk refused is reported once; `unresolved` keeps the schema quiet about it.
  const problem = (offset: number, path: ConfigPath, message: string) => {
    tree.problems.push(positions.at(offset, path, message));
    tree.unresolved.add(formatPath(path));
  };

  const walk = (
    node: AnyNode,
    path: ConfigPath,
    fallback: number,
    secret: boolean,
    depth: number,
  ): unknown => {
    const offset = node?.range?.[0] ?? fallback;
    positions.record(path, offset);
    if (secret) tree.secretPaths.add(formatPath(path));
    if (tree.aborted) return null;
    if (++nodes > MAX_NODES || depth > MAX_DEPTH) {
      tree.aborted = true;
      const what =
        depth > MAX_DEPTH ? `nested deeper than ${MAX_DEPTH} levels` : `more than ${MAX_NODES} values`;
      problem(offset, path, `the config is ${what} (aliases count every time they are used)`);
      return null;
    }
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = aliases.get(node);
      if (target === undefined) {
        problem(offset, path, `unknown alias "*${node.source}"`);
        return null;
      }
      return walk(target, path, offset, secret, depth + 1);
    }
    if (isScalar(node)) return scalar(node.value, path, offset, secret);
    if (isSeq(node)) {
      return node.items.map((item, i) => walk(item as AnyNode, [...path, i], offset, secret, depth + 1));
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const firstLine = new Map<string, number>();
      for (const pair of node.items) {
        const keyNode = pair.key as AnyNode;
        const keyOffset = keyNode?.range?.[0] ?? offset;
        const key = keyOf(keyNode);
        if (key === undefined) {
          problem(keyOffset, path, 'a key must be a plain string');
          continue;
        }
        const at = [...path, key];
        const seen = firstLine.get(key);
        if (seen !== undefined) {
          problem(keyOffset, at, `duplicate key "${key}" (first on line ${positions.lineOf(seen)})`);
          continue;
        }
        firstLine.set(key, keyOffset);
        if (key === '__proto__') {
          problem(keyOffset, at, 'the key "__proto__" is not allowed');
          continue;
        }
        positions.record(at, (pair.value as AnyNode)?.range?.[0] ?? keyOffset, keyOffset);
        const value = walk(pair.value as AnyNode, at, keyOffset, secret || SECRET_KEYS.has(key), depth + 1);
        // defineProperty: a key like "constructor" becomes plain data, never touching the prototype.
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    problem(offset, path, 'unsupported YAML node');
    return null;
  };

  const scalar = (value: unknown, path: ConfigPath, offset: number, secret: boolean): unknown => {
    if (typeof value === 'string') {
      const resolved = resolveReferences(value, refs);
      for (const message of resolved.problems) problem(offset, path, message);
      if (resolved.referenced || secret) {
        tree.secretPaths.add(formatPath(path));
        tree.secretValues.add(resolved.value);
      }
      tree.fileRefs.push(...resolved.files);
      return resolved.value;
    }
    if (value === null || typeof value === 'boolean' || typeof value === 'number') return value;
    // !!binary, !!timestamp, !!set and friends: not config data.
    problem(offset, path, 'unsupported value: use a string, number, boolean, list or map');
    return null;
  };

  tree.value = walk(doc.contents as AnyNode, [], 0, false, 0);
  tree.fileRefs = [...new Set(tree.fileRefs)];
  return tree;
}

function keyOf(node: AnyNode): string | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/**
 * Each alias's anchor, found in one pass: the last node with that anchor before the alias (the
 * YAML rule). `Alias.resolve` rescans the whole document per call, which an alias-heavy file
 * could turn into quadratic work.
 */
function aliasTargets(doc: Document.Parsed): Map<Alias, Node> {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target !== undefined) targets.set(node, target);
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
      }
    },
  });
  return targets;
}
