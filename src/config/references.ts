/**
 * `${env:NAME}` and `${file:/abs/path}` references inside string values, so secrets live in the
 * environment or in mounted files (Kubernetes Secrets) rather than in the config itself.
 *
 * A resolved value is never scanned again: an env var holding `${file:/etc/shadow}` stays
 * that literal text. `$${` writes a literal `${`.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute } from 'node:path';

export interface ReferenceContext {
  env: Record<string, string | undefined>;
  /** returns the file's text or throws; see `readSecretFile` */
  readFile: (path: string) => string;
}

export interface Resolved {
  value: string;
  /** true when any part of the value came from a reference (the value is then a secret) */
  referenced: boolean;
  /** files read, in order */
  files: string[];
  /** one message per bad reference; when non-empty, `value` is the unresolved text */
  problems: string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A secret file is small; refusing big ones keeps `${file:/dev/zero}` from hanging the load. */
export const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/** Resolve every reference in one string scalar. Pure apart from `ctx`. */
export function resolveReferences(text: string, ctx: ReferenceContext): Resolved {
  if (!text.includes('${')) return { value: text, referenced: false, files: [], problems: [] };
  let out = '';
  let referenced = false;
  const files: string[] = [];
  const problems: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      out += '${';
      i += 3;
      continue;
    }
    if (!text.startsWith('${', i)) {
      out += text[i];
      i += 1;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    if (end < 0) {
      problems.push('unterminated "${" (write $${ for a literal ${)');
      break;
    }
    const body = text.slice(i + 2, end);
    i = end + 1;
    referenced = true;
    const colon = body.indexOf(':');
    const kind = colon < 0 ? body : body.slice(0, colon);
    const arg = colon < 0 ? '' : body.slice(colon + 1);
    if (kind === 'env') {
      if (!ENV_NAME.test(arg)) {
        problems.push(`${quote(`\${${body}}`)}: ${quote(arg)} is not an environment variable name`);
        continue;
      }
      const value = ctx.env[arg];
      if (value === undefined) problems.push(`environment variable "${arg}" is not set`);
      else out += value;
    } else if (kind === 'file') {
      if (!isAbsolute(arg)) {
        problems.push(`${quote(`\${${body}}`)}: the file path must be absolute, such as /run/secrets/name`);
        continue;
      }
      try {
        out += trimOneNewline(ctx.readFile(arg));
        files.push(arg);
      } catch (err) {
        problems.push(`cannot read file "${arg}" (${reasonOf(err)})`);
      }
    } else {
      problems.push(
        `unknown reference kind ${quote(kind)} in ${quote(`\${${body}}`)} (use \${env:NAME} or \${file:/path}; $\${ for a literal \${)`,
      );
    }
  }
  if (problems.length > 0) return { value: text, referenced, files, problems };
  return { value: out, referenced, files, problems };
}

/** Kubernetes Secret files and `echo secret > file` end with one newline that is not the secret. */
function trimOneNewline(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

/** The error's code (ENOENT, EACCES…) rather than its message, which may say more than needed. */
function reasonOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
  return 'unreadable';
}

function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 77)}...` : s);
}

/**
 * The default `readFile`: a regular file of at most `MAX_SECRET_FILE_BYTES`, read as UTF-8.
 * Synchronous on purpose: parsing stays one pure, ordered pass.
 */
export function readSecretFile(path: string): string {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTFILE' });
    if (stat.size > MAX_SECRET_FILE_BYTES) throw Object.assign(new Error('too large'), { code: 'EFBIG' });
    const buf = Buffer.alloc(stat.size);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return buf.subarray(0, read).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
