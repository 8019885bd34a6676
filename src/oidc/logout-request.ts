/**
 * The logout token out of a back-channel logout request: a form post whose body carries exactly
 * one `logout_token`. The body is bounded, since any client can reach the endpoint.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest
 */
import type { IncomingMessage } from 'node:http';
import type { ReasonCode } from '../errors.ts';

/** Why a back-channel logout request is refused: the reason code answered, and what is logged. */
export interface Refusal {
  code: ReasonCode;
  why: string;
}

/** A logout token is a few hundred bytes; anything near this is not one. */
const MAX_BODY_BYTES = 16 * 1024;

/** The request's one logout token, or why there is none. */
export async function readLogoutToken(req: IncomingMessage): Promise<string | Refusal> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    return { code: 'logout_token_invalid', why: 'not a form post' };
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === undefined) return { code: 'logout_token_invalid', why: 'body too large or unreadable' };
  const tokens = new URLSearchParams(body).getAll('logout_token');
  if (tokens.length !== 1 || !tokens[0])
    return { code: 'logout_token_invalid', why: 'no single logout_token' };
  return tokens[0];
}

/** The body as text, or undefined when it exceeds `max` bytes or the stream fails. */
function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (value: string | undefined) => {
      if (done) return;
      done = true;
      resolve(value);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        finish(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => finish(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => finish(undefined));
  });
}
