/**
 * nginx for the macro bench, one process (`master_process off`, one worker) so its CPU is one
 * pid: `alone` proxies to the upstream; `auth` does the same behind `auth_request` to
 * Gatehouse's `{prefix}/auth` over a keep-alive upstream block, copying the identity headers
 * as the shipped snippet does; `minAuth` the same to the minimal Node endpoint
 * (`minimal-auth.ts`), the reference for what any Node auth_request target costs; `unix` (when
 * given) is `auth` with Gatehouse reached over a unix socket (`server.listen: unix:/…`).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) =>
  existsSync(p),
);

export function nginxConfig(
  dir: string,
  o: {
    alone: number;
    auth: number;
    minAuth: number;
    upstream: number;
    gatehouse: number;
    minimal: number;
    unix?: { port: number; socket: string };
  },
): string {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const upstreamProxy = `proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";`;
  const text = `daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream app { server 127.0.0.1:${o.upstream}; keepalive 64; }
  upstream gatehouse { server 127.0.0.1:${o.gatehouse}; keepalive 64; }
  upstream minimal { server 127.0.0.1:${o.minimal}; keepalive 64; }
${o.unix ? `  upstream gatehouse_unix { server unix:${o.unix.socket}; keepalive 64; }\n` : ''}  server {
    listen 127.0.0.1:${o.alone};
    location / { ${upstreamProxy} }
  }
${authServer(o.auth, 'http://gatehouse/.gatehouse/auth', upstreamProxy)}
${authServer(o.minAuth, 'http://minimal/auth', upstreamProxy)}
${o.unix ? authServer(o.unix.port, 'http://gatehouse_unix/.gatehouse/auth', upstreamProxy) : ''}
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, text);
  return file;
}

/** A server that proxies to the app behind `auth_request` to `authUrl`, as the shipped snippet does. */
function authServer(port: number, authUrl: string, upstreamProxy: string): string {
  return `  server {
    listen 127.0.0.1:${port};
    location = /_gatehouse_auth {
      internal;
      proxy_pass ${authUrl};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Host $host;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
    }
    location / {
      auth_request /_gatehouse_auth;
      auth_request_set $gh_user $upstream_http_x_auth_request_user;
      auth_request_set $gh_email $upstream_http_x_auth_request_email;
      auth_request_set $gh_assertion $upstream_http_x_gatehouse_assertion;
      proxy_set_header X-Auth-Request-User $gh_user;
      proxy_set_header X-Auth-Request-Email $gh_email;
      proxy_set_header X-Gatehouse-Assertion $gh_assertion;
      ${upstreamProxy}
    }
  }`;
}
