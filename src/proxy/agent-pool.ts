/**
 * One keep-alive agent per upstream origin, reused across requests, so each request does not
 * pay a TCP (and TLS) handshake. Free sockets idle out before the upstream's own keep-alive
 * timeout (node reads the `Keep-Alive: timeout=N` hint and subtracts a second), which avoids
 * most reuse-after-close resets.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';

/** Upper bound for an idle pooled socket when the upstream sends no hint. */
const FREE_SOCKET_TIMEOUT_MS = 30_000;

export interface AgentPool {
  get(upstream: URL): HttpAgent;
  /** destroys every pooled socket; later `get` calls build fresh agents */
  destroy(): void;
}

export function createAgentPool(): AgentPool {
  const agents = new Map<string, HttpAgent>();
  // `URL#origin` builds a new string per read; routes hand the same URL object every time.
  let byUrl = new WeakMap<URL, HttpAgent>();
  return {
    get(upstream) {
      let agent = byUrl.get(upstream);
      if (agent) return agent;
      const origin = upstream.origin;
      agent = agents.get(origin);
      if (!agent) {
        const opts = {
          keepAlive: true,
          keepAliveMsecs: 1000,
          maxFreeSockets: 256,
          timeout: FREE_SOCKET_TIMEOUT_MS,
        };
        agent = upstream.protocol === 'https:' ? new HttpsAgent(opts) : new HttpAgent(opts);
        agents.set(origin, agent);
      }
      byUrl.set(upstream, agent);
      return agent;
    },
    destroy() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
      byUrl = new WeakMap();
    },
  };
}
