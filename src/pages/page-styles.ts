/**
 * The stylesheet of every page: system fonts, one card, real buttons for links, a visible focus
 * ring, and colours with at least WCAG AA contrast in light and dark schemes. Inline and covered
 * by the CSP's hash, so no page loads anything.
 * @see https://www.w3.org/TR/WCAG22/#contrast-minimum
 */
export const BASE_CSS = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1b1f24;--muted:#4a5360;--line:#d0d5dc;
--accent:#0b57d0;--accent-fg:#fff;--focus:#b45309;--warn-bg:#fdf3e1;--warn-line:#c98a1b}
@media (prefers-color-scheme:dark){:root{--bg:#14171b;--card:#1e2227;--fg:#eceff3;--muted:#b5bdc8;
--line:#3a414b;--accent:#8ab4f8;--accent-fg:#0b1a33;--focus:#fbbf24;--warn-bg:#2e2413;--warn-line:#a77a22}}
*{box-sizing:border-box}
html{background:var(--bg);color:var(--fg);font:1rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
body{margin:0;min-height:100vh;display:flex;flex-direction:column}
.skip{position:absolute;left:-100vw}.skip:focus{left:1rem;top:1rem;background:var(--card);padding:.5rem}
header.top{display:flex;align-items:center;gap:.75rem;padding:1rem 1.5rem;border-bottom:1px solid var(--line);background:var(--card)}
header.top img{height:2rem;width:auto}
header.top .app{font-weight:600;font-size:1.05rem}
main{flex:1;display:flex;justify-content:center;align-items:flex-start;padding:3rem 1rem}
.card{width:100%;max-width:34rem;background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:2rem 2rem 1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .75rem}
h2{font-size:1rem;margin:1.5rem 0 .5rem}
p{margin:.5rem 0}
.lead{font-size:1.05rem}
.muted{color:var(--muted)}
.who{margin:1.25rem 0;padding:.75rem 1rem;border-left:4px solid var(--accent);background:var(--bg);border-radius:.25rem}
.note{margin:1rem 0;padding:.75rem 1rem;border:1px solid var(--warn-line);background:var(--warn-bg);border-radius:.375rem}
.note q{font-style:italic}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1.5rem 0 .5rem}
.actions.stack{flex-direction:column}
a{color:var(--accent)}
a.button{display:inline-block;padding:.625rem 1.125rem;border:1px solid var(--accent);border-radius:.5rem;text-decoration:none;font-weight:600;color:var(--accent);background:transparent}
a.button.primary{background:var(--accent);color:var(--accent-fg)}
a.button:hover{text-decoration:underline}
a:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.375rem 1rem;margin:1rem 0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
ul.actions{list-style:none;padding:0;margin-left:0}
.stack li a.button{display:block}
footer{padding:1rem 1.5rem;font-size:.875rem;color:var(--muted);text-align:center}
footer p{margin:.25rem 0}
`
  .trim()
  .replace(/\n/g, '');
