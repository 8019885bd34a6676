/**
 * The files `ui:` names, read at config load (startup, reload and `gatehouse check` alike):
 * `custom_css` and `templates_dir/layout.html`. Each is size-capped and must be UTF-8 text; a
 * layout must parse (`layout-template.ts`). A problem is a config problem at the key's position,
 * so a reload with a broken template is refused and the old pages keep serving.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { type LayoutTemplate, parseLayout } from './layout-template.ts';
import type { UiSettings } from './page-template.ts';

export const MAX_CUSTOM_CSS_BYTES = 64 * 1024;
export const MAX_TEMPLATE_BYTES = 64 * 1024;
export const LAYOUT_FILE = 'layout.html';

export interface UiProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

/** `ui:` as the pages use it, or the problems found; relative paths are from the config's folder. */
export function readUiAssets(
  ui: Config['ui'],
  configFile: string,
): { settings: UiSettings; problems: UiProblem[] } {
  const problems: UiProblem[] = [];
  const base = dirname(resolve(configFile));
  const at = (p: string) => (isAbsolute(p) ? p : join(base, p));
  let customCss: string | undefined;
  let layout: LayoutTemplate | undefined;
  if (ui.custom_css !== undefined) {
    const text = readText(at(ui.custom_css), MAX_CUSTOM_CSS_BYTES);
    if (typeof text === 'string') {
      if (/<\/style/i.test(text))
        problems.push({ path: ['ui', 'custom_css'], message: 'must not contain "</style"' });
      else customCss = text;
    } else problems.push({ path: ['ui', 'custom_css'], message: text.error });
  }
  if (ui.templates_dir !== undefined) {
    const text = readText(join(at(ui.templates_dir), LAYOUT_FILE), MAX_TEMPLATE_BYTES);
    if (typeof text === 'string') {
      try {
        layout = parseLayout(text);
      } catch (err) {
        problems.push({ path: ['ui', 'templates_dir'], message: (err as Error).message });
      }
    } else problems.push({ path: ['ui', 'templates_dir'], message: `${LAYOUT_FILE}: ${text.error}` });
  }
  const settings: UiSettings = {
    ...(ui.app_name !== undefined ? { appName: ui.app_name } : {}),
    ...(ui.logo_url !== undefined ? { logoUrl: ui.logo_url } : {}),
    ...(ui.support_url !== undefined ? { supportUrl: ui.support_url } : {}),
    ...(customCss !== undefined ? { customCss } : {}),
    ...(layout !== undefined ? { layout } : {}),
  };
  return { settings: Object.freeze(settings), problems };
}

function readText(file: string, max: number): string | { error: string } {
  try {
    const info = statSync(file);
    if (!info.isFile()) return { error: `"${file}" is not a file` };
    if (info.size > max) return { error: `"${file}" is larger than ${max} bytes` };
    const bytes = readFileSync(file);
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof TypeError) return { error: `"${file}" is not UTF-8 text` };
    return { error: `cannot read "${file}" (${typeof code === 'string' ? code : 'unreadable'})` };
  }
}
