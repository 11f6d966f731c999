/** The report's stylesheet, inlined into its <head>: the viewer's look, for print and screen. */
export const REPORT_CSS = `
:root { --bg: #f6f7f9; --panel: #fff; --ink: #1d2433; --muted: #667085; --line: #e4e7ec; --accent: #2563eb; --warn: #b54708;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
body { margin: 0 auto; max-width: 1100px; padding: 20px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; }
h3 { font: 600 14px ui-monospace, Menlo, monospace; margin: 0; }
code, td.mono { font: 12px ui-monospace, Menlo, monospace; }
.meta { color: var(--muted); margin: 0 0 16px; }
section.panel, section.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 14px; break-inside: avoid; }
.row { display: flex; gap: 24px; flex-wrap: wrap; align-items: flex-start; }
.input img { image-rendering: pixelated; border: 1px solid var(--line); border-radius: 3px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 500; font-size: 12px; }
td.type { color: var(--accent); }
tr.unobservable td { color: var(--muted); }
td .reason { color: var(--warn); font-size: 12px; }
a { color: inherit; }
.card header { display: flex; gap: 10px; align-items: baseline; }
.card header .type { color: var(--accent); }
.card header .dims { color: var(--muted); font: 12px ui-monospace, Menlo, monospace; }
.stats { display: flex; gap: 18px; margin: 6px 0 10px; }
.stats div { display: flex; gap: 5px; align-items: baseline; }
.stats dt { color: var(--muted); font-size: 12px; }
.stats dd { margin: 0; font: 600 13px ui-monospace, Menlo, monospace; }
img.figure { image-rendering: pixelated; max-width: 100%; height: auto; display: block; }
.colorbar { display: flex; align-items: center; gap: 6px; margin-top: 6px; font: 11px ui-monospace, Menlo, monospace; color: var(--muted); }
.colorbar .ramp { width: 160px; height: 10px; border-radius: 2px; }
.caption, .top-units { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
.top-units b { color: var(--ink); }
.histogram { display: block; border-bottom: 1px solid var(--line); }
.axis { display: flex; justify-content: space-between; width: 260px; font: 11px ui-monospace, Menlo, monospace; color: var(--muted); }
.classes td.bar { width: 60%; }
.classes .bar span { display: block; height: 10px; background: var(--accent); border-radius: 2px; }
.prediction b { font-size: 28px; color: var(--accent); margin-left: 6px; }
`;
