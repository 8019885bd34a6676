/**
 * Helpers for the packaging tests: a small Dockerfile parser, the `.dockerignore` matcher, the
 * "tool is missing" policy, and process/port utilities. No container engine, helm or network.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------------------------------------
// Tools

/** Absolute path of `tool` on PATH, or undefined. */
export function which(tool: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

/**
 * A test that needs a missing tool fails in CI and skips elsewhere, naming the Debian package.
 * Returns the tool's path, or undefined after marking the test skipped.
 */
export function requireTool(t: TestContext, tool: string, debianPackage: string): string | undefined {
  const path = which(tool);
  if (path) return path;
  const message = `${tool} is not installed (apt-get install ${debianPackage})`;
  if (process.env.CI === 'true') throw new Error(message);
  t.skip(message);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile

export interface Instruction {
  /** upper-case keyword: FROM, RUN, COPY… */
  keyword: string;
  /** flags such as --from=deps, by name without the dashes */
  flags: Record<string, string>;
  /** the arguments after the flags: the JSON array for exec form, else whitespace-split words */
  args: string[];
  /** true when written in JSON (exec) form */
  json: boolean;
  /** the raw text after the keyword, continuation lines joined */
  raw: string;
  line: number;
}

export interface Stage {
  index: number;
  /** `AS name`, lower-cased, or undefined */
  name: string | undefined;
  /** the base image after ARG substitution */
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

const FLAG = /^--([a-z-]+)(?:=(.*))?$/;

/** Parse a Dockerfile: comments, parser directives, `\` continuations, flags, exec/shell form. */
export function parseDockerfile(text: string): Dockerfile {
  const logical: { text: string; line: number }[] = [];
  let current = '';
  let start = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    // Comment lines are dropped, even in the middle of a continued instruction.
    if (/^\s*#/.test(line)) continue;
    if (current === '' && line.trim() === '') continue;
    if (current === '') start = i + 1;
    if (/\\\s*$/.test(line)) {
      current += `${line.replace(/\\\s*$/, '')} `;
      continue;
    }
    current += line;
    logical.push({ text: current.trim(), line: start });
    current = '';
  }
  if (current.trim() !== '') logical.push({ text: current.trim(), line: start });

  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const { text: l, line } of logical) {
    const m = /^(\S+)\s*(.*)$/s.exec(l);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    const instruction = parseInstruction(keyword, m[2]!, line);
    if (keyword === 'FROM') {
      const [image, as, name] = instruction.args;
      if (!image) throw new Error(`line ${line}: FROM without an image`);
      stages.push({
        index: stages.length,
        name: as?.toUpperCase() === 'AS' ? name?.toLowerCase() : undefined,
        base: substitute(image, globalArgs),
        instructions: [instruction],
      });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`line ${line}: ${keyword} before the first FROM`);
      const [k, v = ''] = (instruction.args[0] ?? '').split('=');
      if (k) globalArgs[k] = v;
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  if (stages.length === 0) throw new Error('no FROM instruction');
  return { globalArgs, stages };
}

function parseInstruction(keyword: string, rest: string, line: number): Instruction {
  const flags: Record<string, string> = {};
  let body = rest.trim();
  // Flags come first, except for RUN/CMD/ENTRYPOINT bodies and HEALTHCHECK options (also flags).
  for (;;) {
    const m = /^(--[a-z-]+(?:=\S*)?)\s*/.exec(body);
    if (!m) break;
    const f = FLAG.exec(m[1]!)!;
    flags[f[1]!] = f[2] ?? 'true';
    body = body.slice(m[0].length);
  }
  let json = false;
  let args: string[];
  // HEALTHCHECK CMD [...] keeps its sub-keyword in front of the JSON array.
  const jsonPart = keyword === 'HEALTHCHECK' ? body.replace(/^CMD\s+/i, '') : body;
  if (jsonPart.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(jsonPart);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) {
        json = true;
        args = keyword === 'HEALTHCHECK' ? ['CMD', ...parsed] : parsed;
        return { keyword, flags, args, json, raw: rest.trim(), line };
      }
    } catch {
      // not JSON: shell form, as Docker does
    }
  }
  args = body.split(/\s+/).filter(Boolean);
  return { keyword, flags, args, json, raw: rest.trim(), line };
}

function substitute(s: string, vars: Record<string, string>): string {
  return s.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_, a, b) => vars[a ?? b] ?? '',
  );
}

/** The instructions of a stage with one keyword. */
export function instructionsOf(stage: Stage, keyword: string): Instruction[] {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

/** The stage's WORKDIR after its last WORKDIR instruction ("/" when none). */
export function workdirOf(stage: Stage): string {
  let dir = '/';
  for (const i of instructionsOf(stage, 'WORKDIR')) {
    const d = i.args[0] ?? '/';
    dir = d.startsWith('/') ? d : join(dir, d);
  }
  return dir;
}

/** ENV key=value pairs of a stage (both `ENV k=v k2=v2` and the legacy `ENV k v`). */
export function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructionsOf(stage, 'ENV')) {
    if (i.args.length >= 2 && !i.args[0]!.includes('=')) {
      env[i.args[0]!] = i.args.slice(1).join(' ');
      continue;
    }
    for (const a of i.args) {
      const eq = a.indexOf('=');
      if (eq > 0) env[a.slice(0, eq)] = a.slice(eq + 1).replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// .dockerignore

export interface IgnoreRule {
  negate: boolean;
  re: RegExp;
}

/** Compile `.dockerignore` into rules (Docker's patternmatcher: last match wins, `!` re-includes). */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    let line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    if (negate) line = line.slice(1).trim();
    line = line.replace(/^\/+/, '').replace(/\/+$/, '');
    if (line === '') continue;
    rules.push({ negate, re: globToRegExp(line) });
  }
  return rules;
}

function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `**/` = any number of directories (including none); a trailing `**` = anything.
        if (pattern[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether a context-relative path is excluded. As in Docker, a pattern that matches a parent
 * directory matches everything below it.
 */
export function isIgnored(rules: IgnoreRule[], relPath: string): boolean {
  const parts = relPath.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.re.test(c))) ignored = !rule.negate;
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------------
// Processes and ports

export { freePort } from './ports.ts';

/** Poll `url` until it answers 200, or throw after `timeoutMs`. Returns the body. */
export async function waitFor200(url: string, timeoutMs: number, isAlive: () => boolean): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!isAlive()) throw new Error(`process exited before ${url} answered`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      const body = await res.text();
      if (res.status === 200) return body;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs}ms (${last})`);
}
