/**
 * The one value of a request header that describes something once (the original request's
 * URI or method, from an edge proxy). node joins a repeated unknown header into one string
 * ("GET, POST"), so a repetition is found in `rawHeaders`: two descriptions of the original
 * request are refused (400), never resolved to one of them.
 */
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors.ts';

/** @throws GatehouseError `bad_request` when `name` (lower-case) appears more than once */
export function singleHeader(req: IncomingMessage, name: string): string | undefined {
  const raw = req.rawHeaders;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name && ++seen > 1)
      throw new GatehouseError('bad_request', `repeated ${name} header`);
  }
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
